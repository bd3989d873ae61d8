import { z } from 'zod';

/**
 * A product id is its SKU: short, URL-safe, and usable inside a Redis hash tag
 * (no braces, no colons), so `{stock:<id>}` always names one Cluster slot.
 */
export const ProductId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "-" or "_", starting with a letter or digit');
export type ProductId = z.infer<typeof ProductId>;

/** Orders are identified by a UUID the order service generates. */
export const OrderId = z.uuid();
export type OrderId = z.infer<typeof OrderId>;

/** A customer id is opaque to Storefront; it only has to be short and printable. */
export const CustomerId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'must be 1-64 printable characters without spaces');
export type CustomerId = z.infer<typeof CustomerId>;

/** Money is always an integer number of minor units (cents); floats never carry prices. */
export const Cents = z.number().int().min(0).max(100_000_000);

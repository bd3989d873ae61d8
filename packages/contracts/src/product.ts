import { z } from 'zod';
import { Cents, ProductId } from './ids.js';

/** A product as catalog stores and serves it. `version` grows by one on every write. */
export const Product = z.object({
  id: ProductId,
  name: z.string().min(1).max(200),
  description: z.string().max(2000),
  priceCents: Cents,
  stock: z.number().int().min(0),
  version: z.number().int().min(1),
  updatedAt: z.iso.datetime(),
});
export type Product = z.infer<typeof Product>;

/** `POST /products` (admin). Unknown fields are rejected, not ignored. */
export const CreateProductRequest = z.strictObject({
  id: ProductId,
  name: z.string().min(1).max(200),
  description: z.string().max(2000).default(''),
  priceCents: Cents,
  stock: z.number().int().min(0).max(1_000_000).default(0),
});
export type CreateProductRequest = z.infer<typeof CreateProductRequest>;

/** `PATCH /products/:id` (admin). Stock is not patched: it changes through restock and reservations. */
export const UpdateProductRequest = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(2000).optional(),
    priceCents: Cents.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'must change at least one field' });
export type UpdateProductRequest = z.infer<typeof UpdateProductRequest>;

/** `POST /products/:id/restock` (admin). */
export const RestockRequest = z.strictObject({
  quantity: z.number().int().min(1).max(1_000_000),
});
export type RestockRequest = z.infer<typeof RestockRequest>;

/** `GET /products` query. */
export const ListProductsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: ProductId.optional(),
});
export type ListProductsQuery = z.infer<typeof ListProductsQuery>;

/** `GET /rankings` query: the window in minutes (at most the hour the rankings keep) and the length of each list. */
export const RankingsQuery = z.strictObject({
  window: z.coerce.number().int().min(1).max(60).default(60),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});
export type RankingsQuery = z.infer<typeof RankingsQuery>;

const Ranked = z.object({ productId: ProductId, name: z.string().nullable(), score: z.number() });

/** `GET /rankings`: best-selling (units ordered) and most-watched (new watchers) products, and orders per minute. */
export const Rankings = z.object({
  windowMinutes: z.number().int(),
  bestSelling: z.array(Ranked),
  mostWatched: z.array(Ranked),
  /** One entry per minute of the window, oldest first. */
  ordersPerMinute: z.array(
    z.object({
      minute: z.iso.datetime(),
      placed: z.number().int(),
      paid: z.number().int(),
      cancelled: z.number().int(),
      expired: z.number().int(),
    }),
  ),
});
export type Rankings = z.infer<typeof Rankings>;

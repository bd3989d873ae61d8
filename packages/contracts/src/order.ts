import { z } from 'zod';
import { Cents, CustomerId, OrderId, ProductId } from './ids.js';

/** Most items one order or reservation may carry; bigger arrays are rejected before any work. */
export const MAX_ORDER_ITEMS = 50;

export const OrderItemInput = z.strictObject({
  productId: ProductId,
  quantity: z.number().int().min(1).max(1000),
});
export type OrderItemInput = z.infer<typeof OrderItemInput>;

const distinctProducts = (items: OrderItemInput[]) => new Set(items.map((i) => i.productId)).size === items.length;

const OrderItems = z
  .array(OrderItemInput)
  .min(1)
  .max(MAX_ORDER_ITEMS)
  .refine(distinctProducts, { message: 'must not list the same productId twice' });

/** `POST /orders` body. The customer is the bearer token's subject, never a body field. */
export const PlaceOrderRequest = z.strictObject({
  items: OrderItems,
});
export type PlaceOrderRequest = z.infer<typeof PlaceOrderRequest>;

export const OrderStatus = z.enum(['reserved', 'paid', 'cancelled', 'expired']);
export type OrderStatus = z.infer<typeof OrderStatus>;

export const OrderItem = z.object({
  productId: ProductId,
  quantity: z.number().int().min(1),
  unitPriceCents: Cents,
});
export type OrderItem = z.infer<typeof OrderItem>;

export const Order = z.object({
  id: OrderId,
  customerId: CustomerId,
  status: OrderStatus,
  items: z.array(OrderItem).min(1),
  totalCents: z.number().int().min(0),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Order = z.infer<typeof Order>;

/** `POST /reservations` body (order → catalog). Repeating an orderId returns the first result. */
export const ReservationRequest = z.strictObject({
  orderId: OrderId,
  items: OrderItems,
});
export type ReservationRequest = z.infer<typeof ReservationRequest>;

/**
 * `POST /reservations` 201 body (catalog → order): every line reserved, at the price
 * catalog read under the stock lock. Order parses it on receipt. The refusals are
 * problem+json: 409 `insufficient_stock` and 404 `not_found`, both naming `productId`.
 */
export const ReservationResponse = z.object({
  orderId: OrderId,
  status: z.literal('reserved'),
  items: z.array(OrderItem).min(1),
});
export type ReservationResponse = z.infer<typeof ReservationResponse>;

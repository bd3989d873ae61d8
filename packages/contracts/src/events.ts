import { z } from 'zod';
import { Cents, CustomerId, OrderId, ProductId } from './ids.js';
import { OrderItem } from './order.js';

/**
 * Every event shares one envelope: a unique `id` (consumers de-duplicate on it),
 * a `type`, a schema `version`, and when it happened.
 */
const envelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    id: z.uuid(),
    type: z.literal(type),
    version: z.literal(1),
    occurredAt: z.iso.datetime(),
    data,
  });

export const ProductUpdated = envelope(
  'product.updated',
  z.object({
    productId: ProductId,
    version: z.number().int().min(1),
    priceCents: Cents,
    previousPriceCents: Cents.nullable(),
  }),
);

export const StockChanged = envelope(
  'stock.changed',
  z.object({
    productId: ProductId,
    stock: z.number().int().min(0),
    previousStock: z.number().int().min(0),
    reason: z.enum(['reserved', 'released', 'restocked', 'created']),
  }),
);

const orderData = z.object({ orderId: OrderId, customerId: CustomerId });

export const OrderPlaced = envelope(
  'order.placed',
  orderData.extend({ items: z.array(OrderItem).min(1), totalCents: z.number().int().min(0) }),
);
export const OrderPaid = envelope('order.paid', orderData);
export const OrderCancelled = envelope('order.cancelled', orderData);
export const OrderExpired = envelope('order.expired', orderData);

export const NotificationRequested = envelope(
  'notification.requested',
  z.object({
    customerId: CustomerId,
    orderId: OrderId.nullable(),
    productId: ProductId.nullable(),
    /** The event that caused this notification; delivery is de-duplicated on it. */
    causeEventId: z.uuid(),
    kind: z.enum(['order.placed', 'order.paid', 'order.cancelled', 'order.expired', 'price.dropped', 'back.in.stock']),
    message: z.string().min(1).max(500),
  }),
);

/** Any Storefront event; parse with this to validate an incoming message of unknown type. */
export const StorefrontEvent = z.discriminatedUnion('type', [
  ProductUpdated,
  StockChanged,
  OrderPlaced,
  OrderPaid,
  OrderCancelled,
  OrderExpired,
  NotificationRequested,
]);
export type StorefrontEvent = z.infer<typeof StorefrontEvent>;
export type EventType = StorefrontEvent['type'];
/** The event whose `type` is `T`. */
export type EventOf<T extends EventType> = Extract<StorefrontEvent, { type: T }>;

/** Schema per event type, for consumers that subscribe to one type. */
export const eventSchemas = {
  'product.updated': ProductUpdated,
  'stock.changed': StockChanged,
  'order.placed': OrderPlaced,
  'order.paid': OrderPaid,
  'order.cancelled': OrderCancelled,
  'order.expired': OrderExpired,
  'notification.requested': NotificationRequested,
} as const satisfies { [T in EventType]: z.ZodType<EventOf<T>> };

/** Build an event of `type` with a fresh id and the current time. */
export const newEvent = <T extends EventType>(type: T, data: EventOf<T>['data']): EventOf<T> =>
  ({ id: globalThis.crypto.randomUUID(), type, version: 1, occurredAt: new Date().toISOString(), data }) as EventOf<T>;

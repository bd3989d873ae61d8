import { z } from 'zod';
import { CustomerId, OrderId, ProductId } from './ids.js';

/** `POST /watches` body: tell the calling customer (the token's subject) when a product's price drops or it is back in stock. */
export const WatchRequest = z.strictObject({
  productId: ProductId,
});
export type WatchRequest = z.infer<typeof WatchRequest>;

/** A customer's watch on a product, as the notifier keeps it. */
export interface Watch {
  customerId: CustomerId;
  productId: ProductId;
}

/**
 * `GET /notifications` query. A customer sees only their own notifications (the token's
 * subject; naming another `customerId` is refused); an admin names `orderId` or `customerId`.
 */
export const NotificationQuery = z.strictObject({
  orderId: OrderId.optional(),
  customerId: CustomerId.optional(),
});
export type NotificationQuery = z.infer<typeof NotificationQuery>;

/** A delivered notification, as the notifier records it. */
export const Notification = z.object({
  causeEventId: z.uuid(),
  customerId: CustomerId,
  orderId: OrderId.nullable(),
  productId: ProductId.nullable(),
  kind: z.string(),
  message: z.string(),
  channel: z.enum(['webhook', 'record']),
  deliveredAt: z.iso.datetime(),
});
export type Notification = z.infer<typeof Notification>;

import { z } from 'zod';
import { CustomerId, OrderId, ProductId } from './ids.js';

/** `POST /watches`: tell a customer when a product's price drops or it is back in stock. */
export const WatchRequest = z.strictObject({
  customerId: CustomerId,
  productId: ProductId,
});
export type WatchRequest = z.infer<typeof WatchRequest>;

/** `GET /notifications` query; at least one filter. */
export const NotificationQuery = z
  .strictObject({
    orderId: OrderId.optional(),
    customerId: CustomerId.optional(),
  })
  .refine((q) => q.orderId !== undefined || q.customerId !== undefined, { message: 'needs orderId or customerId' });
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

import type { OrderExpiryJob } from '@storefront/contracts';
import type { Job } from 'bullmq';
import type { OrderService } from '../domain/order-service.js';

/**
 * The `order-expiry` processor: an order still unpaid when its delayed job comes due
 * becomes `expired` (with its outbox event; the relay then releases the stock). A paid or
 * cancelled order is left alone, so the job needs no cancellation.
 */
export const expireOrder =
  (orders: OrderService) =>
  async (job: Job<OrderExpiryJob>): Promise<{ expired: boolean }> => ({
    expired: Boolean(await orders.expire(job.data.orderId)),
  });

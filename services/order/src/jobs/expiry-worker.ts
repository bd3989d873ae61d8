import { BULLMQ_PREFIX, type OrderExpiryJob, queues } from '@storefront/contracts';
import type { RedisClient } from '@storefront/redis-kit';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { OrderService } from '../domain/order-service.js';

/**
 * Works the delayed `order-expiry` jobs: an order still unpaid when its job comes due
 * becomes `expired` (with its outbox event; the relay then releases the stock).
 * A paid or cancelled order is left alone, so the job needs no cancellation.
 */
export const startExpiryWorker = (connection: RedisClient, orders: OrderService, logger: Logger): Worker<OrderExpiryJob> => {
  const worker = new Worker<OrderExpiryJob>(
    queues.orderExpiry,
    async (job) => {
      const expired = await orders.expire(job.data.orderId);
      return { expired: Boolean(expired) };
    },
    { connection: connection, prefix: BULLMQ_PREFIX, concurrency: 4 },
  );
  worker.on('error', (err) => logger.warn({ err }, 'expiry worker error'));
  worker.on('failed', (job, err) => logger.warn({ err, orderId: job?.data.orderId }, 'expiry job failed'));
  return worker;
};

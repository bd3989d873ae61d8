import { BULLMQ_PREFIX, type NotificationJob, queues } from '@storefront/contracts';
import type { RedisClient } from '@storefront/redis-kit';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Delivery } from '../domain/delivery.js';

/** Options for {@link startNotificationWorker}. */
export interface NotificationWorkerOptions {
  concurrency: number;
  /** Deliveries per second across this worker (BullMQ's limiter). */
  ratePerSecond: number;
  /** How often stalled jobs (their worker died) are looked for, and how long a job lock lives. */
  stalledIntervalMs: number;
  registry: Registry;
  logger: Logger;
}

/**
 * Works the `notifications` queue. Attempts and exponential backoff come from the job
 * options every producer uses (contracts' NOTIFICATION_JOB_OPTIONS); after the last
 * attempt the job stays in BullMQ's failed set — the dead letters. A worker killed
 * mid-job loses its lock; after `stalledIntervalMs` another worker runs the job again,
 * and {@link Delivery} makes that second run a no-op if the first one delivered.
 */
export const startNotificationWorker = (connection: RedisClient, delivery: Delivery, options: NotificationWorkerOptions) => {
  const outcomes = new Counter({
    name: 'notifications_total',
    help: 'Notification jobs by outcome: delivered, duplicate (already delivered), failed (will retry), dead (out of attempts)',
    labelNames: ['outcome'] as const,
    registers: [options.registry],
  });
  const duration = new Histogram({
    name: 'notification_job_duration_seconds',
    help: 'Time to process one notification job',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [options.registry],
  });
  const worker = new Worker<NotificationJob>(
    queues.notifications,
    async (job) => {
      const end = duration.startTimer();
      try {
        const outcome = await delivery.deliver(job.data);
        outcomes.inc({ outcome });
        return { outcome };
      } finally {
        end();
      }
    },
    {
      connection,
      prefix: BULLMQ_PREFIX,
      concurrency: options.concurrency,
      limiter: { max: options.ratePerSecond, duration: 1000 },
      stalledInterval: options.stalledIntervalMs,
      lockDuration: options.stalledIntervalMs,
    },
  );
  worker.on('error', (err) => options.logger.warn({ err }, 'notification worker error'));
  worker.on('failed', (job, err) => {
    const dead = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    outcomes.inc({ outcome: dead ? 'dead' : 'failed' });
    options.logger.warn({ err, jobId: job?.id, attemptsMade: job?.attemptsMade, dead }, 'notification delivery failed');
  });
  return worker;
};

import { trace } from '@opentelemetry/api';
import { type NotificationJob, queues } from '@storefront/contracts';
import type { NotificationSealing, ServiceHost } from '@storefront/service-defaults';
import { Counter, Histogram } from 'prom-client';
import type { NotifierConfig } from '../config.js';
import type { Delivery } from '../domain/delivery.js';

/**
 * Works the `notifications` queue. Attempts and exponential backoff come from the job
 * options every producer uses (contracts' NOTIFICATION_JOB_OPTIONS); after the last
 * attempt the job stays in BullMQ's failed set — the dead letters. A worker killed
 * mid-job loses its lock; after `NOTIFY_STALLED_INTERVAL` another worker runs the job
 * again, and {@link Delivery} makes that second run a no-op if the first one delivered.
 * A message that cannot be opened (a key this instance lacks) fails the job like any
 * other error: it retries, then dead-letters, re-drivable once the key is configured.
 */
export const startNotificationWorker = (host: ServiceHost<NotifierConfig>, delivery: Delivery, sealing: NotificationSealing) => {
  const { config, logger } = host;
  const registers = [host.metrics.registry];
  const outcomes = new Counter({
    name: 'notifications_total',
    help: 'Notification jobs by outcome: delivered, duplicate (already delivered), failed (will retry), dead (out of attempts)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'notification_job_duration_seconds',
    help: 'Time to process one notification job',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const worker = host.worker<NotificationJob>(
    queues.notifications,
    async (job) => {
      const end = duration.startTimer();
      // BullMQ's `process notifications` span (one per attempt): which attempt, for which order, and what came of it.
      const span = trace.getActiveSpan();
      span?.setAttributes({
        'bullmq.job.attempt': job.attemptsMade + 1,
        ...(job.data.data.orderId ? { 'order.id': job.data.data.orderId } : {}),
      });
      try {
        // The message travels sealed; it is opened only here, in memory, for delivery.
        const outcome = await delivery.deliver(sealing.open(job.data));
        span?.setAttribute('notification.outcome', outcome);
        outcomes.inc({ outcome });
        return { outcome };
      } finally {
        end();
      }
    },
    {
      concurrency: config.NOTIFY_CONCURRENCY,
      limiter: { max: config.NOTIFY_RATE_PER_SECOND, duration: 1000 },
      stalledInterval: config.NOTIFY_STALLED_INTERVAL,
      lockDuration: config.NOTIFY_STALLED_INTERVAL,
    },
  );
  worker.on('failed', (job, err) => {
    const dead = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    outcomes.inc({ outcome: dead ? 'dead' : 'failed' });
    logger.warn({ err, jobId: job?.id, attemptsMade: job?.attemptsMade, dead }, 'notification delivery failed');
  });
  return worker;
};

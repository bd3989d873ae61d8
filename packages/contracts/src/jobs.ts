import { z } from 'zod';
import type { EventOf } from './events.js';

/** Payload of a `notifications` job: the notification.requested event itself. */
export type NotificationJob = EventOf<'notification.requested'>;

/** Payload of an `order-expiry` job. */
export interface OrderExpiryJob {
  orderId: string;
}

/**
 * Options every producer of notification jobs uses: 5 attempts with exponential backoff
 * (0.5 s, 1 s, 2 s, 4 s); after the last one the job stays in the failed set, which
 * the notifier serves as its dead letters. Completed jobs are kept an hour for dedupe.
 */
export const NOTIFICATION_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 50_000 },
  removeOnFail: false,
} as const;

/**
 * The shape of a notification job's id (`jobIds.notification`): what `POST /dead-letters/:id/retry`
 * accepts, so no other key of the queue (`wait`, `meta`, `events`, …) can be named as a job.
 */
export const NotificationJobId = z
  .string()
  .regex(
    /^notify-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/,
    'must be a notification job id (notify-<event uuid>-<customer id>)',
  );

/** BullMQ job ids are derived from what they are about, so a re-driven outbox row cannot enqueue twice. */
export const jobIds = {
  notification: (causeEventId: string, customerId: string) => `notify-${causeEventId}-${customerId}`,
  orderExpiry: (orderId: string) => `expire-${orderId}`,
} as const;

import type { Notification, NotificationJob, NotificationQuery } from '@storefront/contracts';
import type { NotificationStore } from '../store/notification-store.js';

/** Sends one notification to the outside world (the webhook), or nothing in record-only mode. */
export type Sender = (notification: NotificationJob['data'], idempotencyKey: string) => Promise<void>;

/**
 * Delivery, idempotent per (cause event, customer): a job that runs twice — retried
 * after a crash, or enqueued twice by a re-driven outbox row — delivers once. The
 * record is written after the webhook accepted, and the webhook gets an
 * `Idempotency-Key`, so a crash between the two is deduplicated by the receiver.
 */
export class Delivery {
  constructor(
    private readonly notifications: NotificationStore,
    private readonly send: Sender | undefined,
  ) {}

  /** Deliver; resolves `duplicate` when this notification was delivered before. */
  async deliver(job: NotificationJob): Promise<'delivered' | 'duplicate'> {
    const { causeEventId, customerId } = job.data;
    if (!this.send) {
      // Record-only: the record is the delivery, so one INSERT decides it atomically.
      return (await this.notifications.record(job, 'record')) ? 'delivered' : 'duplicate';
    }
    // Webhook: check, send, then record. A crash between send and record re-sends with
    // the same Idempotency-Key, which the receiver de-duplicates; recording first could
    // lose the notification instead.
    if (await this.notifications.delivered(causeEventId, customerId)) return 'duplicate';
    await this.send(job.data, `${causeEventId}:${customerId}`);
    return (await this.notifications.record(job, 'webhook')) ? 'delivered' : 'duplicate';
  }

  list(query: NotificationQuery): Promise<Notification[]> {
    return this.notifications.list(query);
  }
}

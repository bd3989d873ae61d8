import type { Notification, NotificationJob, NotificationQuery } from '@storefront/contracts';
import type pg from 'pg';

interface NotificationRow {
  cause_event_id: string;
  customer_id: string;
  order_id: string | null;
  product_id: string | null;
  kind: string;
  message: string;
  channel: 'webhook' | 'record';
  delivered_at: Date;
}

const toNotification = (row: NotificationRow): Notification => ({
  causeEventId: row.cause_event_id,
  customerId: row.customer_id,
  orderId: row.order_id,
  productId: row.product_id,
  kind: row.kind,
  message: row.message,
  channel: row.channel,
  deliveredAt: row.delivered_at.toISOString(),
});

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
    private readonly db: pg.Pool,
    private readonly send: Sender | undefined,
  ) {}

  /** Deliver; resolves `duplicate` when this notification was delivered before. */
  async deliver(job: NotificationJob): Promise<'delivered' | 'duplicate'> {
    const { causeEventId, customerId } = job.data;
    if (!this.send) {
      // Record-only: the record is the delivery, so one INSERT decides it atomically.
      return (await this.#record(job, 'record')) ? 'delivered' : 'duplicate';
    }
    // Webhook: check, send, then record. A crash between send and record re-sends with
    // the same Idempotency-Key, which the receiver de-duplicates; recording first could
    // lose the notification instead.
    const seen = await this.db.query('SELECT 1 FROM notifications WHERE cause_event_id = $1 AND customer_id = $2', [
      causeEventId,
      customerId,
    ]);
    if (seen.rowCount) return 'duplicate';
    await this.send(job.data, `${causeEventId}:${customerId}`);
    return (await this.#record(job, 'webhook')) ? 'delivered' : 'duplicate';
  }

  /** Insert the delivery record; false when it already existed. */
  async #record(job: NotificationJob, channel: 'webhook' | 'record'): Promise<boolean> {
    const { causeEventId, customerId, orderId, productId, kind, message } = job.data;
    const inserted = await this.db.query(
      `INSERT INTO notifications (cause_event_id, customer_id, order_id, product_id, kind, message, channel)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [causeEventId, customerId, orderId, productId, kind, message, channel],
    );
    return inserted.rowCount === 1;
  }

  async list(query: NotificationQuery): Promise<Notification[]> {
    const { rows } = await this.db.query<NotificationRow>(
      `SELECT * FROM notifications
       WHERE ($1::uuid IS NULL OR order_id = $1) AND ($2::text IS NULL OR customer_id = $2)
       ORDER BY delivered_at LIMIT 200`,
      [query.orderId ?? null, query.customerId ?? null],
    );
    return rows.map(toNotification);
  }
}

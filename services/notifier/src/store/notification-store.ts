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

/** Delivered notifications in Postgres: one row per (cause event, customer), the idempotent sink. */
export class NotificationStore {
  constructor(private readonly db: pg.Pool) {}

  /** Whether this notification was delivered already. */
  async delivered(causeEventId: string, customerId: string): Promise<boolean> {
    const seen = await this.db.query('SELECT 1 FROM notifications WHERE cause_event_id = $1 AND customer_id = $2', [
      causeEventId,
      customerId,
    ]);
    return seen.rowCount === 1;
  }

  /** Insert the delivery record; false when it already existed. */
  async record(job: NotificationJob, channel: 'webhook' | 'record'): Promise<boolean> {
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

import type { Notification, NotificationJob, NotificationQuery } from '@storefront/contracts';
import { GroupCommit, prepared } from '@storefront/service-kit';
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

// The statements of every job, prepared: parsed and planned once per connection (service-kit's `prepared`).
const DELIVERED = prepared(
  'notification_delivered',
  'SELECT 1 FROM notifications WHERE cause_event_id = $1 AND customer_id = $2',
);
/** A batch of delivery records, one array per column; the rows that were new come back. */
const INSERT_RECORDS = prepared(
  'notification_records',
  `INSERT INTO notifications (cause_event_id, customer_id, order_id, product_id, kind, message, channel)
   SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
   ON CONFLICT DO NOTHING
   RETURNING cause_event_id, customer_id`,
);

/** Delivered notifications in Postgres: one row per (cause event, customer), the idempotent sink. */
export class NotificationStore {
  /** Delivery records of jobs worked at the same time go out in one INSERT (group commit). */
  readonly #records: GroupCommit<{ job: NotificationJob; channel: 'webhook' | 'record' }, boolean>;

  constructor(private readonly db: pg.Pool) {
    this.#records = new GroupCommit((batch) => this.#insert(batch));
  }

  /** Whether this notification was delivered already. */
  async delivered(causeEventId: string, customerId: string): Promise<boolean> {
    const seen = await this.db.query({ ...DELIVERED, values: [causeEventId, customerId] });
    return seen.rowCount === 1;
  }

  /**
   * Insert the delivery record; false when it already existed (delivered before, or by an
   * earlier job of the same batch). Records of jobs worked at the same time share one INSERT.
   */
  record(job: NotificationJob, channel: 'webhook' | 'record'): Promise<boolean> {
    return this.#records.add({ job, channel });
  }

  async #insert(batch: { job: NotificationJob; channel: 'webhook' | 'record' }[]): Promise<boolean[]> {
    const rows = batch.map(({ job, channel }) => ({ ...job.data, channel }));
    const { rows: inserted } = await this.db.query<{ cause_event_id: string; customer_id: string }>({
      ...INSERT_RECORDS,
      values: [
        rows.map((r) => r.causeEventId),
        rows.map((r) => r.customerId),
        rows.map((r) => r.orderId),
        rows.map((r) => r.productId),
        rows.map((r) => r.kind),
        rows.map((r) => r.message),
        rows.map((r) => r.channel),
      ],
    });
    // Each new row answers `true` once: to the first job of the batch that carried it.
    const fresh = new Set(inserted.map((r) => `${r.cause_event_id} ${r.customer_id}`));
    return rows.map((r) => fresh.delete(`${r.causeEventId.toLowerCase()} ${r.customerId}`));
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

import type { Migration } from '@storefront/service-kit';

/**
 * Delivered notifications (the idempotent sink: one row per cause event and customer)
 * and product watches.
 */
export const migrations: Migration[] = [
  {
    id: '001_notifications',
    sql: `
      CREATE TABLE notifications (
        cause_event_id uuid NOT NULL,
        customer_id text NOT NULL,
        order_id uuid,
        product_id text,
        kind text NOT NULL,
        message text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('webhook', 'record')),
        delivered_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (cause_event_id, customer_id)
      );
      CREATE INDEX notifications_order ON notifications (order_id);
      CREATE INDEX notifications_customer ON notifications (customer_id, delivered_at)`,
  },
  {
    id: '002_watches',
    sql: `
      CREATE TABLE watches (
        customer_id text NOT NULL,
        product_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (product_id, customer_id)
      )`,
  },
];

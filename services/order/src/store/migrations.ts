import { type Migration, outboxTableSql } from '@storefront/service-kit';

/**
 * Orders and their outbox. An order and the event announcing it are written in one
 * transaction; the relay moves outbox rows to Redis (BullMQ, pub/sub) and marks them
 * published, so nothing acknowledged is lost if Redis is down or loses data.
 */
export const migrations: Migration[] = [
  {
    id: '001_orders',
    sql: `
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('reserved', 'paid', 'cancelled', 'expired')),
        items jsonb NOT NULL,
        total_cents integer NOT NULL CHECK (total_cents >= 0),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX orders_customer ON orders (customer_id, created_at)`,
  },
  { id: '002_outbox', sql: outboxTableSql() },
];

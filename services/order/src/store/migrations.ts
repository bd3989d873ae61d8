import { type Migration, outboxTableSql, outboxTraceContextSql } from '@storefront/service-kit';

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
  {
    // The expiry sweeper's query: unpaid orders past their deadline, oldest first.
    id: '003_reserved_expiry',
    sql: "CREATE INDEX orders_reserved_expiry ON orders (expires_at) WHERE status = 'reserved'",
  },
  {
    // The record of truth behind Idempotency-Key (Redis holds the fast path): written in the
    // order's own transaction, so a placed order and its key exist together or not at all.
    id: '004_idempotency_keys',
    sql: `
      CREATE TABLE idempotency_keys (
        customer_id text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        order_id uuid NOT NULL REFERENCES orders (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, key)
      )`,
  },
  {
    // An order being placed, recorded before catalog reserves its stock and deleted by the
    // transaction that writes the order: one left behind is a reservation no order owns.
    id: '005_order_intents',
    sql: `
      CREATE TABLE order_intents (
        order_id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX order_intents_age ON order_intents (created_at)`,
  },
  {
    // An order may total up to 50 items x 1000 units x 100 000 000 cents (5e12): beyond
    // integer's 2^31-1, which answered 500 after reserving. bigint holds it; pg returns it
    // as text and the store reads it back as a number (exact below 2^53).
    id: '006_total_cents_bigint',
    sql: 'ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint',
  },
  // The trace of the request that wrote a row, so the relay continues it.
  { id: '007_outbox_trace_context', sql: outboxTraceContextSql() },
];

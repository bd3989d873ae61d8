import type pg from 'pg';

/**
 * The outbox table, for a service's migrations. One row per event; `published_at` is set
 * once the relay's handler succeeded; `attempts` and `last_error` tell an operator why a
 * row is stuck. The partial index keeps the relay's query cheap however long the table grows.
 */
export const outboxTableSql = (table = 'outbox') => `
  CREATE TABLE ${table} (
    id bigserial PRIMARY KEY,
    event jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
  );
  CREATE INDEX ${table}_unpublished ON ${table} (id) WHERE published_at IS NULL`;

/**
 * Append an event to the outbox inside the caller's transaction, so the event commits
 * (or rolls back) together with the state change it announces.
 */
export const appendToOutbox = async (client: pg.PoolClient, event: unknown, table = 'outbox'): Promise<void> => {
  await client.query(`INSERT INTO ${table} (event) VALUES ($1)`, [JSON.stringify(event)]);
};

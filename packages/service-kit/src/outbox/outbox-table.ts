import type pg from 'pg';
import { traceCarrier } from '../tracing.js';

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
 * The outbox's `trace_context` column (a migration after {@link outboxTableSql}): the W3C
 * trace context of the request that wrote the row, so the relay continues that trace.
 */
export const outboxTraceContextSql = (table = 'outbox') => `ALTER TABLE ${table} ADD COLUMN trace_context jsonb`;

/**
 * The values of an outbox row for `event`, in column order `(event, trace_context)`: the event
 * as JSON and the active trace context (null without tracing). For a statement that writes
 * the row itself, e.g. in a CTE beside the state change it announces.
 */
export const outboxRow = (event: unknown): [event: string, traceContext: string | null] => {
  const carrier = traceCarrier();
  return [JSON.stringify(event), carrier.traceparent ? JSON.stringify(carrier) : null];
};

/**
 * Append an event to the outbox inside the caller's transaction, so the event commits
 * (or rolls back) together with the state change it announces. The active trace context
 * goes with it (null without tracing).
 */
export const appendToOutbox = async (client: pg.PoolClient, event: unknown, table = 'outbox'): Promise<void> => {
  await client.query(`INSERT INTO ${table} (event, trace_context) VALUES ($1, $2)`, outboxRow(event));
};

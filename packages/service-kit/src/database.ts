import { createHash } from 'node:crypto';
import pg from 'pg';

/** One schema change. Ids sort in the order they apply (`001_products`, `002_stock`, …). */
export interface Migration {
  id: string;
  sql: string;
}

/** Options for {@link createPool}. */
export interface PoolOptions {
  /** Max connections per process. Default 10. */
  max?: number;
  /** Fail a connection attempt after this long. Default 5 s. */
  connectionTimeoutMillis?: number;
  /** Postgres `lock_timeout` of every session: a statement waiting longer for a row lock fails (503). Default: none. */
  lockTimeoutMs?: number;
  /**
   * Postgres `idle_in_transaction_session_timeout`: the server ends a session that sits in an
   * open transaction this long (a paused or stuck process), releasing its row locks. Default: none.
   */
  idleInTransactionTimeoutMs?: number;
}

/** A node-postgres pool for `DATABASE_URL`. */
export const createPool = (
  connectionString: string,
  { max = 10, connectionTimeoutMillis = 5000, lockTimeoutMs, idleInTransactionTimeoutMs }: PoolOptions = {},
) =>
  new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis,
    ...(lockTimeoutMs === undefined ? {} : { lock_timeout: lockTimeoutMs }),
    ...(idleInTransactionTimeoutMs === undefined ? {} : { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs }),
  });

const MIGRATION_LOCK = "hashtext('storefront:migrations')";

/**
 * Apply pending migrations, each in its own transaction. Several instances may start
 * at once: an advisory lock makes them take turns, and the second one
 * finds nothing left to do. Returns the ids it applied.
 *
 * Hand-written rather than node-pg-migrate: the services need forward-only SQL with
 * a lock, which is these few lines, not a CLI and a config format.
 */
export const migrate = (pool: pg.Pool, migrations: readonly Migration[]): Promise<string[]> =>
  withClient(pool, async (client) => {
    const applied: string[] = [];
    try {
      // Session-level lock for the whole run: even CREATE TABLE IF NOT EXISTS races otherwise.
      await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      for (const migration of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) {
        await client.query('BEGIN');
        try {
          const seen = await client.query('SELECT 1 FROM schema_migrations WHERE id = $1', [migration.id]);
          if (seen.rowCount === 0) {
            await client.query(migration.sql);
            await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
            applied.push(migration.id);
          }
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`Migration ${migration.id} failed: ${(error as Error).message}`, { cause: error });
        }
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
    }
    return applied;
  });

/** A statement Postgres keeps parsed and planned per connection: pass it with its values, `{ ...statement, values }`. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * A named prepared statement for a hot, fixed SQL text: the first time a pooled connection
 * runs it, Postgres parses and plans it and keeps it for that connection (`Parse` with a
 * name); every later run there sends only the values (`Bind`/`Execute`), and after five runs
 * Postgres may keep one generic plan instead of planning again. node-postgres remembers which
 * connections have it. Measured on the order path: Postgres' CPU per placed order halved
 * (docs/benchmarks.md, "Fifth look").
 *
 * Its name is `label` and 12 hex of the text's SHA-256: what a trace shows for it (the
 * Postgres instrumentation names a query's span by its statement's name, `pg.query:order_insert_…`),
 * and never one name for two texts — node-postgres refuses a name reused for another text on
 * one connection. Only for fixed texts: a text built per call would leave a statement per
 * variant on every connection. A pooler in transaction mode (PgBouncer before 1.21) would
 * need its prepared-statement support; nothing here uses one.
 */
export const prepared = (label: string, text: string): PreparedStatement => {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(label)) throw new Error(`prepared: label must be lower_snake_case, got "${label}"`);
  return { name: `${label}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`, text };
};

/**
 * Run `work` on a pooled client and release it. node-postgres' pool listens for a client's
 * `error` only while the client is idle: a checked-out client whose session ends *between*
 * queries (Postgres restarted, `idle_in_transaction_session_timeout` while `work` awaits
 * something else) would throw an uncaught `error` event and end the process. Here that error
 * is caught, the next query fails instead ("not queryable"), and the client is destroyed
 * rather than reused.
 */
export const withClient = async <T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
  const client = await pool.connect();
  let lost: Error | undefined;
  // Stays attached once the session is lost: a dead client may report more than once.
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);
  try {
    return await work(client);
  } finally {
    if (!lost) client.removeListener('error', onError);
    client.release(lost);
  }
};

/** Run `work` in one transaction on a pooled client ({@link withClient}): COMMIT on success, ROLLBACK on any error. */
export const withTransaction = <T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
  withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });

/** SQLSTATE classes and codes that mean "the database cannot do this now", not "the query is wrong". */
const UNAVAILABLE_SQLSTATES = ['08', '53', '57P01', '57P02', '57P03', '55P03', '57014', '25P03', '40P01'];
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
];

/**
 * Whether `error` from `pg` means Postgres cannot answer now — unreachable, restarting,
 * out of connections, or a statement/lock timeout or deadlock (retry later) — rather than
 * a bad query. The error middleware answers these with 503 and `Retry-After`.
 */
export const isDatabaseUnavailable = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATES.some((c) => code.startsWith(c));
  return UNAVAILABLE_MESSAGES.some((m) => error.message.startsWith(m));
};

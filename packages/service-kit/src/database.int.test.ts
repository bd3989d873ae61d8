import { createTestDatabase, type PostgresServer, startEmbeddedPostgres, startPostgres, waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, prepared, withTransaction } from './database.js';

const migrations = [
  { id: '001_items', sql: 'CREATE TABLE items (id text PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))' },
  { id: '002_seed', sql: "INSERT INTO items VALUES ('a', 5)" },
];

// The embedded server always; the real one too when DATABASE_URL names it (CI sets it).
const targets: [string, () => Promise<PostgresServer>][] = [['embedded Postgres', startEmbeddedPostgres]];
if (process.env.DATABASE_URL) targets.push(['DATABASE_URL Postgres', () => startPostgres(process.env.DATABASE_URL)]);

describe.each(targets)('migrate on %s', (_label, start) => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server?.stop());

  it('applies each migration once even when two instances start together', async () => {
    const db = await createTestDatabase(server.url, 'migrate');
    const [a, b] = [createPool(db.url), createPool(db.url)];
    try {
      const [appliedA, appliedB] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
      expect([...appliedA, ...appliedB].sort()).toEqual(['001_items', '002_seed']);
      expect((await a.query('SELECT qty FROM items WHERE id = $1', ['a'])).rows).toEqual([{ qty: 5 }]);
      expect(await migrate(a, migrations)).toEqual([]);
    } finally {
      await Promise.all([a.end(), b.end()]);
      await db.drop();
    }
  });

  it('rolls back a failing migration and names it', async () => {
    const db = await createTestDatabase(server.url, 'migrate_fail');
    const pool = createPool(db.url);
    try {
      await expect(migrate(pool, [...migrations, { id: '003_bad', sql: "INSERT INTO items VALUES ('b', -1)" }])).rejects.toThrow(
        /Migration 003_bad failed/,
      );
      expect((await pool.query("SELECT count(*)::int AS n FROM schema_migrations WHERE id = '003_bad'")).rows[0].n).toBe(0);
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});

describe('withTransaction', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
  });
  afterAll(() => server?.stop());

  it('a session Postgres ends while the work awaits something else fails that transaction, not the process; the pool goes on', async () => {
    const db = await createTestDatabase(server.url, 'lost_session');
    const pool = createPool(db.url, { max: 1, idleInTransactionTimeoutMs: 200 });
    const observer = createPool(db.url, { max: 1 });
    try {
      await pool.query('CREATE TABLE marks (n int)');
      const outcome = withTransaction(pool, async (client) => {
        await client.query('INSERT INTO marks VALUES (1)');
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        // The work waits on something outside the database (a handler, a lock) past the timeout.
        await waitFor(async () => (await observer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, {
          timeoutMs: 10_000,
          description: 'Postgres ended the idle-in-transaction session',
        });
        await client.query('INSERT INTO marks VALUES (2)');
      });
      await expect(outcome).rejects.toThrow();
      // Nothing of the transaction is kept, and the pool serves the next query on a new session.
      expect((await pool.query('SELECT count(*)::int AS n FROM marks')).rows[0].n).toBe(0);
      expect(pool.totalCount).toBe(1);
    } finally {
      await Promise.all([pool.end(), observer.end()]);
      await db.drop();
    }
  });
});

describe('prepared', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
  });
  afterAll(() => server?.stop());

  it('names a statement by its label and text: one text one name, two texts two names; a label is lower_snake_case', () => {
    const text = 'SELECT $1::int + 1 AS n';
    expect(prepared('plus', text)).toEqual(prepared('plus', text));
    expect(prepared('plus', text).name).toMatch(/^plus_[0-9a-f]{12}$/);
    expect(prepared('plus', text).name).not.toBe(prepared('plus', 'SELECT $1::int + 2 AS n').name);
    expect(() => prepared('Plus One', text)).toThrow(/lower_snake_case/);
  });

  it('is parsed once per connection and run with new values each time; a new session prepares it again', async () => {
    const db = await createTestDatabase(server.url, 'prepared');
    const pool = createPool(db.url, { max: 1 });
    const observer = createPool(db.url, { max: 1 });
    // The pool reports an idle session's end as an `error` event (the services log it); expected below.
    pool.on('error', () => {});
    const plusOne = prepared('plus_one', 'SELECT $1::int + 1 AS n');
    const inSession = async () =>
      (
        await pool.query<{ n: number; runs: number }>(
          'SELECT count(*)::int AS n, coalesce(sum(generic_plans + custom_plans), 0)::int AS runs FROM pg_prepared_statements WHERE name = $1',
          [plusOne.name],
        )
      ).rows[0];
    try {
      for (let i = 0; i < 7; i++) expect((await pool.query({ ...plusOne, values: [i] })).rows).toEqual([{ n: i + 1 }]);
      // One statement in the session (a second Parse of the name would have failed), run 7 times.
      expect(await inSession()).toEqual({ n: 1, runs: 7 });
      // The session ends (a Postgres restart or failover does this): the pool's next connection prepares it anew.
      const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await observer.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(async () => pool.totalCount === 0, { timeoutMs: 10_000, description: 'the pool dropped the ended session' });
      expect((await pool.query({ ...plusOne, values: [41] })).rows).toEqual([{ n: 42 }]);
      expect(await inSession()).toEqual({ n: 1, runs: 1 });
    } finally {
      await Promise.all([pool.end(), observer.end()]);
      await db.drop();
    }
  });
});

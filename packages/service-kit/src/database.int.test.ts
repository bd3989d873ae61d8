import { createTestDatabase, type PostgresServer, startEmbeddedPostgres, startPostgres, waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, withTransaction } from './database.js';

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

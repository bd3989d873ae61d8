import { createTestDatabase, type TestDatabase, waitFor } from '@storefront/testing';
import type pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPool, migrate, withTransaction } from '../database.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
import { appendToOutbox, outboxTableSql, outboxTraceContextSql } from './outbox-table.js';

type TestEvent = { type: 'test'; n: number };

let db: TestDatabase;
let pool: pg.Pool;
const logger = pino({ level: 'silent' });
const relays: OutboxRelay<TestEvent>[] = [];
const pools: pg.Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase(inject('postgresUrl'), 'outbox');
  pool = createPool(db.url);
  await migrate(pool, [
    { id: '001_outbox', sql: outboxTableSql() },
    { id: '002_outbox_trace_context', sql: outboxTraceContextSql() },
  ]);
});
beforeEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await pool.query('TRUNCATE outbox');
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await Promise.all([...pools, pool].map((p) => p.end()));
  await db.drop();
});

const append = (from: number, count: number) =>
  withTransaction(pool, async (client) => {
    for (let n = from; n < from + count; n++) await appendToOutbox(client, { type: 'test', n } satisfies TestEvent);
  });
const pendingRows = async () =>
  Number((await pool.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).rows[0].n);
const relay = (handle: (event: TestEvent) => Promise<void>, options: Partial<OutboxRelayOptions<TestEvent>> = {}, on = pool) => {
  const r = new OutboxRelay<TestEvent>(on, handle, { logger, registry: new Registry(), ...options });
  relays.push(r);
  return r;
};

describe('OutboxRelay', () => {
  it('publishes every row exactly once with three relays on their own connections working at the same time', async () => {
    await append(0, 300);
    const seen: number[] = [];
    const handle = async (event: TestEvent) => {
      seen.push(event.n);
      await new Promise((r) => setImmediate(r));
    };
    for (let i = 0; i < 3; i++) {
      const own = createPool(db.url, { max: 2 });
      pools.push(own);
      relay(handle, { batchSize: 20, intervalMs: 20 }, own).start();
    }
    await waitFor(async () => (await pendingRows()) === 0, { timeoutMs: 20_000, description: 'every row published' });
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(300);
  });

  it('keeps a failed row pending with its error, and publishes it once the handler succeeds', async () => {
    await append(0, 3);
    let down = true;
    const published: number[] = [];
    const r = relay(async (event) => {
      if (down && event.n === 1) throw new Error('queue unreachable');
      published.push(event.n);
    });
    expect(await r.runOnce()).toEqual({ seen: 3, published: 2 });
    const stuck = (await pool.query("SELECT attempts, last_error FROM outbox WHERE event->>'n' = '1'")).rows[0];
    expect(stuck).toMatchObject({ attempts: 1, last_error: 'Error: queue unreachable' });
    down = false;
    expect(await r.runOnce()).toEqual({ seen: 1, published: 1 });
    expect(published).toEqual([0, 2, 1]);
  });

  it('re-drives the rows published within the window, in commit order, at once, and leaves older rows alone', async () => {
    await append(0, 10);
    const seen: number[] = [];
    const r = relay(
      async (event) => {
        seen.push(event.n);
      },
      { intervalMs: 60_000 },
    );
    r.start();
    await waitFor(async () => (await pendingRows()) === 0, { description: 'every row published' });
    // Rows 0–4 went out an hour ago; 5–9 just now.
    await pool.query("UPDATE outbox SET published_at = now() - interval '1 hour' WHERE (event->>'n')::int < 5");
    expect(await r.redrive(60_000)).toBe(5);
    // Not at the next poll (a minute away): the re-drive runs the relay itself.
    await waitFor(async () => seen.length === 15 && (await pendingRows()) === 0, {
      timeoutMs: 5_000,
      description: 'the re-driven rows published again',
    });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 5, 6, 7, 8, 9]);
    expect(await r.redrive(0)).toBe(0);
  });

  it('with concurrency, a slow row does not hold up the others, and rows of one key stay in order behind a failure', async () => {
    await append(0, 12);
    const order: number[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    let failOnce = true;
    // Key = n % 3: lanes 0, 1, 2. Row 0 (lane 0) waits on a slow dependency; row 4 (lane 1) fails once.
    const r = relay(
      async (event) => {
        if (event.n === 0) await slow;
        if (event.n === 4 && failOnce) {
          failOnce = false;
          throw new Error('not now');
        }
        order.push(event.n);
        if (order.length === 5) release(); // lane 2 (4 rows) and lane 1 (row 1) finished while row 0 waited
      },
      { concurrency: 3, orderingKey: (event) => String(event.n % 3) },
    );
    expect(await r.runOnce()).toEqual({ seen: 12, published: 9 });
    // Lane 0 in order, after the slow row; lane 1 stopped at row 4 (7 and 10 wait with it).
    expect(order.filter((n) => n % 3 === 0)).toEqual([0, 3, 6, 9]);
    expect(order.filter((n) => n % 3 === 1)).toEqual([1]);
    expect(order.indexOf(0)).toBeGreaterThan(order.indexOf(2));
    expect(await r.runOnce()).toEqual({ seen: 3, published: 3 });
    expect(order.slice(-3)).toEqual([4, 7, 10]);
  });

  it('claims and marks a batch in two round trips, and one transaction (BEGIN; SELECT … then UPDATE …; COMMIT)', async () => {
    await append(0, 30);
    const counted = createPool(db.url, { max: 1 });
    pools.push(counted);
    const sent: string[] = [];
    const wrapped = new WeakSet<pg.PoolClient>();
    counted.on('acquire', (client) => {
      if (wrapped.has(client)) return;
      wrapped.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
        sent.push(String(text));
        return query(text, ...rest);
      };
    });
    const seen: number[] = [];
    const r = relay(async (event) => void seen.push(event.n), { batchSize: 50 }, counted);
    expect(await r.runOnce()).toEqual({ seen: 30, published: 30 });
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^BEGIN; SELECT .* FOR UPDATE SKIP LOCKED$/);
    expect(sent[1]).toMatch(/^UPDATE outbox SET published_at = now\(\) WHERE id = ANY\('\{[0-9,]+\}'::bigint\[\]\); COMMIT$/);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(await pendingRows()).toBe(0);
    // Nothing pending: still one transaction, two round trips.
    sent.length = 0;
    expect(await r.runOnce()).toEqual({ seen: 0, published: 0 });
    expect(sent).toEqual([expect.stringMatching(/^BEGIN; SELECT /), 'COMMIT']);
  });

  it('counts a row as published only once its batch commits: a connection lost mid-batch leaves every row pending, and they go out again', async () => {
    await append(0, 5);
    const own = createPool(db.url, { max: 1 });
    pools.push(own);
    own.on('error', () => {}); // the terminated connection's error, expected here
    let lose = true;
    const handled: number[] = [];
    const r = relay(
      async (event) => {
        handled.push(event.n);
        if (lose && event.n === 4) {
          lose = false;
          // Every row handled, not yet marked: the relay's connection is cut before its UPDATE … COMMIT.
          await pool.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()",
          );
        }
      },
      { batchSize: 50 },
      own,
    );
    await expect(r.runOnce()).rejects.toThrow();
    expect(handled).toEqual([0, 1, 2, 3, 4]);
    expect(await pendingRows()).toBe(5);
    // At least once: the next run hands every row to the handler again.
    expect(await r.runOnce()).toEqual({ seen: 5, published: 5 });
    expect(handled).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect(await pendingRows()).toBe(0);
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => relay(async () => {}, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => relay(async () => {}, { batchSize: 2.5 })).toThrow(/batchSize/);
  });

  it('pauses while nothing can be published: transactions and handler calls stay bounded, then it catches up once', async () => {
    // 120 rows and a handler whose dependency is down. Before the fix, a full batch that
    // published nothing was re-selected at once, forever: thousands of transactions a second.
    await append(0, 120);
    let down = true;
    let calls = 0;
    const published: number[] = [];
    const counted = createPool(db.url, { max: 2 });
    pools.push(counted);
    let transactions = 0;
    counted.on('acquire', () => transactions++);
    const r = relay(
      async (event) => {
        calls++;
        if (down) throw new Error('redis unreachable');
        published.push(event.n);
      },
      { batchSize: 50, intervalMs: 50, maxBackoffMs: 400 },
      counted,
    );
    r.start();
    const windowMs = 2_000;
    const kicks = setInterval(() => r.kick(), 10); // new orders keep nudging it
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    clearInterval(kicks);
    // Pauses of 50, 100, 200, 400, 400 … ms: about 8 failed runs in 2 s; allow twice that.
    expect(transactions).toBeLessThanOrEqual(16);
    expect(calls).toBeLessThanOrEqual(16 * 50);
    expect(transactions).toBeGreaterThanOrEqual(3); // it kept trying
    down = false;
    await waitFor(async () => (await pendingRows()) === 0, { timeoutMs: 5_000, description: 'the backlog published' });
    expect(published.sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, n) => n));
  });
});

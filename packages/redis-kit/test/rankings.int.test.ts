import { fileURLToPath } from 'node:url';
import { runNodeProcesses, startRedisServer, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { SlidingRanking } from '../src/rankings/sliding-ranking.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const opened: RedisClient[] = [];
const connect = (url = inject('redisUrl')) => {
  const c = createRedis({ url });
  c.on('error', () => {});
  opened.push(c);
  return c;
};
afterAll(() => {
  for (const c of opened) c.disconnect();
});
const unique = () => `rank:{t${Math.random().toString(36).slice(2, 8)}}`;
const MINUTE = 60_000;

/** A clock the test moves: starts 10 s into a minute. */
const clock = () => {
  let t = Math.floor(Date.now() / MINUTE) * MINUTE + 10_000;
  return {
    now: () => t,
    advance: (ms: number) => (t += ms),
    get t() {
      return t;
    },
  };
};

describe('SlidingRanking', () => {
  it('ranks by the scores summed over the window asked for, highest first, ties by member', async () => {
    const time = clock();
    const ranking = new SlidingRanking(connect(), { name: 'order', key: unique(), buckets: 5, now: time.now });
    expect(await ranking.record('e1', time.t, { a: 2, b: 1 })).toBe('counted');
    time.advance(MINUTE);
    expect(await ranking.record('e2', time.t, { b: 3, c: 1 })).toBe('counted');
    expect(await ranking.record('e3', time.t, { c: 1, d: 2 })).toBe('counted');
    // Five minutes: b 4, a 2, c 2, d 2 (ties by member); this minute alone: b 3, c 2, d 2.
    expect(await ranking.top(10)).toEqual([
      { member: 'b', score: 4 },
      { member: 'a', score: 2 },
      { member: 'c', score: 2 },
      { member: 'd', score: 2 },
    ]);
    expect(await ranking.top(2, 1)).toEqual([
      { member: 'b', score: 3 },
      { member: 'c', score: 2 },
    ]);
    // Four minutes on, the first minute has slid out of a five-minute window... then the second.
    time.advance(4 * MINUTE);
    expect(await ranking.top(10)).toEqual([
      { member: 'b', score: 3 },
      { member: 'c', score: 2 },
      { member: 'd', score: 2 },
    ]);
    time.advance(MINUTE);
    expect(await ranking.top(10)).toEqual([]);
  });

  it('puts an event in the bucket of the time it happened, and gives each bucket its own scores in order', async () => {
    const time = clock();
    const ranking = new SlidingRanking(connect(), { name: 'order', key: unique(), buckets: 3, now: time.now });
    time.advance(2 * MINUTE);
    await ranking.record('late', time.t - 2 * MINUTE, { placed: 1 });
    await ranking.record('now-1', time.t, { placed: 1 });
    await ranking.record('now-2', time.t, { placed: 1, paid: 1 });
    // A clock ahead of this one counts in the current bucket, not a future one.
    await ranking.record('ahead', time.t + 5 * MINUTE, { paid: 1 });
    const series = await ranking.series();
    const start = Math.floor(time.t / MINUTE) * MINUTE;
    expect(series).toEqual([
      { at: start - 2 * MINUTE, scores: { placed: 1 } },
      { at: start - MINUTE, scores: {} },
      { at: start, scores: { paid: 2, placed: 2 } },
    ]);
  });

  it('counts an event offered again (by the same or another process) once, and one older than the window not at all', async () => {
    const time = clock();
    const registry = new Registry();
    const ranking = new SlidingRanking(connect(), { name: 'watched', key: unique(), buckets: 3, now: time.now, registry });
    expect(await ranking.record('w1', time.t, { p1: 1 })).toBe('counted');
    expect(await ranking.record('w1', time.t, { p1: 1 })).toBe('duplicate');
    expect(await ranking.record('old', time.t - 3 * MINUTE, { p1: 5 })).toBe('expired');
    expect(await ranking.top(5)).toEqual([{ member: 'p1', score: 1 }]);
    const metric = await registry.getSingleMetricAsString('ranking_records_total');
    expect(metric).toContain('ranking_records_total{ranking="watched",outcome="counted"} 1');
    expect(metric).toContain('ranking_records_total{ranking="watched",outcome="duplicate"} 1');
    expect(metric).toContain('ranking_records_total{ranking="watched",outcome="expired"} 1');
  });

  it('counts each of 200 events once while 4 processes offer all of them at the same time', async () => {
    const key = unique();
    const runs = await runNodeProcesses(4, fixture('ranking-recorder.mjs'), [inject('redisUrl'), key, '200', '4']);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const counted = runs.map((r) => (JSON.parse(r.stdout) as { counted: number }).counted);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(200);
    const ranking = new SlidingRanking(connect(), { name: 'check', key });
    expect(await ranking.top(10)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4'].map((member) => ({ member, score: 40 })));
  }, 60_000);

  it('lets every bucket and marker expire by itself once it is out of the longest window', async () => {
    const redis = connect();
    const key = unique();
    const ranking = new SlidingRanking(redis, { name: 'ttl', key, bucketMs: 1_000, buckets: 2 });
    await ranking.record('x', Date.now(), { a: 1 });
    const [bucket] = (await redis.keys(`${key}:1*`)) as string[];
    expect(bucket).toBeDefined();
    for (const k of [bucket!, `${key}:seen:x`]) {
      const ttl = await redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_000);
    }
    await waitFor(async () => (await redis.exists(bucket!, `${key}:seen:x`)) === 0, {
      description: 'bucket and marker expired',
      timeoutMs: 6_000,
    });
  });

  it('refuses a key without a hash tag, a window longer than it keeps, and a bad increment', async () => {
    const redis = connect();
    expect(() => new SlidingRanking(redis, { name: 'x', key: 'rank:plain' })).toThrow(/hash tag/);
    const ranking = new SlidingRanking(redis, { name: 'x', key: unique(), buckets: 3 });
    await expect(ranking.top(5, 4)).rejects.toThrow(/1 to 3 buckets/);
    await expect(ranking.top(5, 0)).rejects.toThrow(/1 to 3 buckets/);
    await expect(ranking.record('e', Date.now(), { a: Number.NaN })).rejects.toThrow(/bad increment/);
  });

  it('fails the record fast while Redis hangs, and counts it exactly once when it is offered again after', async () => {
    const server = await startRedisServer();
    try {
      const redis = createRedis({ url: server.url }, { commandTimeoutMs: 500 });
      redis.on('error', () => {});
      opened.push(redis);
      const registry = new Registry();
      const ranking = new SlidingRanking(redis, { name: 'hung', key: unique(), registry });
      await waitFor(() => redis.status === 'ready', { description: 'connected' });
      expect(await ranking.record('before', Date.now(), { a: 1 })).toBe('counted');
      process.kill(server.pid, 'SIGSTOP');
      const started = Date.now();
      try {
        await expect(ranking.record('during', Date.now(), { a: 1 })).rejects.toThrow(/timed out/i);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await registry.getSingleMetricAsString('ranking_records_total')).toContain('outcome="failed"} 1');
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      // The outcome was unknown: the script may have run once the server woke. The caller (an
      // outbox, a job) offers the event again, and either way it counts once.
      expect(['counted', 'duplicate']).toContain(await ranking.record('during', Date.now(), { a: 1 }));
      expect(await ranking.record('during', Date.now(), { a: 1 })).toBe('duplicate');
      expect(await ranking.top(5)).toEqual([{ member: 'a', score: 2 }]);
    } finally {
      await server.stop();
    }
  });
});

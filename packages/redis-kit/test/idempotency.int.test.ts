import { startRedisServer, waitFor } from '@storefront/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { fingerprint } from '../src/idempotency/fingerprint.js';
import { IdempotencyInFlightError, IdempotencyMismatchError, IdempotencyStore } from '../src/idempotency/idempotency-store.js';

const opened: RedisClient[] = [];
const connect = () => {
  const c = createRedis({ url: inject('redisUrl') });
  opened.push(c);
  return c;
};
afterAll(() => {
  for (const c of opened) c.disconnect();
});
const key = () => `test:idem:${Math.random().toString(36).slice(2)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IdempotencyStore', () => {
  it('executes once for 50 concurrent repeats over 5 connections, and every caller gets the same response', async () => {
    const registry = new Registry();
    const stores = Array.from({ length: 5 }, () => new IdempotencyStore(connect(), { waitMs: 5000, registry }));
    const k = key();
    let executions = 0;
    const work = async () => {
      executions++;
      await sleep(50);
      return { status: 201, body: { orderId: `o-${executions}` } };
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 5]!.execute(k, 'fp', work)));
    expect(executions).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r.response)))).toEqual(
      new Set([JSON.stringify({ status: 201, body: { orderId: 'o-1' } })]),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await registry.metrics()).toMatch(/idempotency_requests_total\{outcome="replayed"\} 49/);
  });

  it('answers a repeat that arrives while the first runs with an in-flight error when it may not wait', async () => {
    const redis = connect();
    const store = new IdempotencyStore(redis);
    const k = key();
    let release!: () => void;
    const first = store.execute(k, 'fp', () => new Promise((r) => (release = () => r({ status: 201, body: 1 }))));
    await waitFor(async () => (await redis.exists(k)) === 1, { description: 'first claim' });
    await expect(store.execute(k, 'fp', async () => ({ status: 201, body: 2 }))).rejects.toThrow(IdempotencyInFlightError);
    release();
    expect((await first).response.body).toBe(1);
  });

  it('rejects a repeat with a different payload', async () => {
    const store = new IdempotencyStore(connect());
    const k = key();
    await store.execute(k, fingerprint({ a: 1, b: 2 }), async () => ({ status: 201, body: 'ok' }));
    // Same payload, keys in another order: a replay.
    expect((await store.execute(k, fingerprint({ b: 2, a: 1 }), async () => ({ status: 500, body: 'no' }))).replayed).toBe(true);
    await expect(store.execute(k, fingerprint({ a: 1, b: 3 }), async () => ({ status: 201, body: 'x' }))).rejects.toThrow(
      IdempotencyMismatchError,
    );
  });

  it('frees the key when the first attempt fails, so a retry runs', async () => {
    const store = new IdempotencyStore(connect());
    const k = key();
    await expect(store.execute(k, 'fp', async () => Promise.reject(new Error('catalog down')))).rejects.toThrow('catalog down');
    expect((await store.execute(k, 'fp', async () => ({ status: 201, body: 'second' }))).response.body).toBe('second');
  });

  it('forgets a response after its window', async () => {
    const redis = connect();
    const store = new IdempotencyStore(redis, { ttlMs: 100 });
    const k = key();
    let runs = 0;
    const work = async () => ({ status: 201, body: ++runs });
    await store.execute(k, 'fp', work);
    await waitFor(async () => (await redis.exists(k)) === 0, { description: 'window to pass' });
    expect((await store.execute(k, 'fp', work)).response.body).toBe(2);
  });

  it('abandons a claim that landed after its SET timed out, so a retry runs instead of waiting out the in-flight TTL', async () => {
    const server = await startRedisServer();
    const redis = createRedis({ url: server.url }, { commandTimeoutMs: 300 });
    redis.on('error', () => {});
    const registry = new Registry();
    const store = new IdempotencyStore(redis, { inFlightTtlMs: 30_000, registry });
    const k = key();
    try {
      await redis.ping();
      process.kill(server.pid, 'SIGSTOP');
      let ran = false;
      const work = async () => {
        ran = true;
        return { status: 201, body: 'first' };
      };
      await expect(store.execute(k, 'fp', work)).rejects.toThrow(/timed out/);
      expect(ran).toBe(false);
      // The server thaws and runs the queued SET late: a claim for a request that never ran…
      process.kill(server.pid, 'SIGCONT');
      // …which the store removes in the background, well before its 30 s TTL.
      await waitFor(async () => (await registry.metrics()).includes('idempotency_requests_total{outcome="abandoned"} 1'), {
        timeoutMs: 5_000,
        description: 'claim abandoned',
      });
      expect(await redis.exists(k)).toBe(0);
      expect((await store.execute(k, 'fp', async () => ({ status: 201, body: 'retry' }))).response.body).toBe('retry');
    } finally {
      process.kill(server.pid, 'SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  });

  it('writes a claim with the short claim TTL and extends it once it is its own', async () => {
    const redis = connect();
    const store = new IdempotencyStore(redis, { inFlightTtlMs: 30_000, claimTtlMs: 300 });
    const k = key();
    // What reaches the server: a claim that lands late and is never extended lives 300 ms.
    const monitor = await (connect() as Redis).monitor();
    const sent: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1] === k) sent.push(args.join(' '));
    });
    let release!: () => void;
    const running = store.execute(k, 'fp', () => new Promise((r) => (release = () => r({ status: 201, body: 'ok' }))));
    await waitFor(async () => (await redis.pttl(k)) > 10_000, { description: 'the live claim extended' });
    release();
    expect((await running).response.body).toBe('ok');
    await waitFor(() => sent.some((c) => c.startsWith('set ') || c.startsWith('SET ')), { description: 'the claim seen' });
    monitor.disconnect();
    expect(sent.find((c) => /^set /i.test(c))).toMatch(/ PX 300 NX GET$/i);
  });

  it('returns a response it could not store when the work replays itself, leaving the key free; otherwise throws', async () => {
    const server = await startRedisServer();
    const redis = createRedis({ url: server.url }, { commandTimeoutMs: 300 });
    redis.on('error', () => {});
    const registry = new Registry();
    const [durable, plain] = [true, false].map(
      (workIsIdempotent) => new IdempotencyStore(redis, { inFlightTtlMs: 30_000, workIsIdempotent, registry }),
    );
    const [k1, k2] = [key(), key()];
    // The work succeeds, and Redis freezes before the response is stored.
    const freezeThen = (body: string) => async () => {
      process.kill(server.pid, 'SIGSTOP');
      return { status: 201, body };
    };
    try {
      await redis.ping();
      expect((await durable!.execute(k1, 'fp', freezeThen('placed'))).response.body).toBe('placed');
      process.kill(server.pid, 'SIGCONT');
      // The key is not left pending: the late completion landed (a replay) or the claim was
      // abandoned (the work runs and replays its own record) — either way no 409 for the TTL.
      const retry = await durable!.execute(k1, 'fp', async () => ({ status: 201, body: 'placed (replayed by the work)' }));
      expect(String(retry.response.body)).toMatch(/^placed/);
      expect(await redis.get(k1)).toMatch(/"state":"done"/);
      // Without the option the failure is the caller's (503): the work may not have its own record.
      await expect(plain!.execute(k2, 'fp', freezeThen('placed'))).rejects.toThrow(/timed out/);
    } finally {
      process.kill(server.pid, 'SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  });
});

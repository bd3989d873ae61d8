import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { lineReader, track, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Loaded } from '../src/cache/entry.js';
import { type CacheOptions, TwoTierCache } from '../src/cache/two-tier-cache.js';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';

type Product = { price: number };
const fixture = fileURLToPath(new URL('./fixtures/cache-peer.mjs', import.meta.url));
const ns = () => `testcache${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const opened: RedisClient[] = [];
const connect = (role: 'command' | 'subscriber' = 'command') => {
  const client = createRedis({ url: inject('redisUrl') }, { role });
  client.on('error', () => {});
  opened.push(client);
  return client;
};
const makeCache = async (options: CacheOptions, withSubscriber = true) => {
  const cache = new TwoTierCache<Product>(connect(), withSubscriber ? connect('subscriber') : undefined, options);
  await cache.start();
  return cache;
};

let redis: RedisClient;
beforeAll(() => {
  redis = connect();
});
afterAll(() => {
  for (const c of opened) c.disconnect();
});

describe('TwoTierCache', () => {
  it('serves a miss, then L1; with L1 off, then L2', async () => {
    const namespace = ns();
    const loader = async (): Promise<Loaded<Product>> => ({ value: { price: 1 }, version: 1 });
    const twoTier = await makeCache({ namespace });
    expect((await twoTier.getOrLoad('a', loader)).tier).toBe('miss');
    expect(await twoTier.getOrLoad('a', loader)).toEqual({ value: { price: 1 }, tier: 'l1' });
    const redisOnly = await makeCache({ namespace, l1: false });
    expect(await redisOnly.getOrLoad('a', loader)).toEqual({ value: { price: 1 }, tier: 'l2' });
  });

  it('loads once for 200 concurrent misses on one key across 4 instances with their own connections', async () => {
    const namespace = ns();
    const registry = new Registry();
    const caches = await Promise.all(Array.from({ length: 4 }, () => makeCache({ namespace, registry })));
    let loads = 0;
    const loader = async (): Promise<Loaded<Product>> => {
      loads++;
      await sleep(50);
      return { value: { price: 7 }, version: 1 };
    };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => caches[i % 4]!.getOrLoad('hot', loader)));
    expect(loads).toBe(1);
    expect(results.every((r) => r.value?.price === 7)).toBe(true);
    const text = await registry.metrics();
    expect(text).toMatch(/cache_stampedes_suppressed_total\{namespace="\w+",scope="process"\} 196/);
    expect(text).toMatch(/cache_stampedes_suppressed_total\{namespace="\w+",scope="cluster"\} 3/);
  });

  it('updates the writer’s own L1 on set, not only other instances’', async () => {
    const cache = await makeCache({ namespace: ns() });
    await cache.getOrLoad('own', async () => ({ value: { price: 1 }, version: 1 }));
    expect((await cache.getOrLoad('own', async () => null)).tier).toBe('l1');
    await cache.set('own', { price: 2 }, 2);
    expect(await cache.getOrLoad('own', async () => null)).toEqual({ value: { price: 2 }, tier: 'l1' });
    // A stale set (older version) is refused and leaves no stale copy in L1.
    await cache.set('own', { price: 0 }, 1);
    expect((await cache.getOrLoad('own', async () => null)).value).toEqual({ price: 2 });
  });

  it('caches a missing id as a negative entry', async () => {
    const cache = await makeCache({ namespace: ns() });
    let loads = 0;
    const loader = async () => {
      loads++;
      return null;
    };
    expect(await cache.getOrLoad('ghost', loader)).toEqual({ value: null, tier: 'miss' });
    expect((await cache.getOrLoad('ghost', loader)).value).toBeNull();
    expect(loads).toBe(1);
  });

  it('spreads expiries with jitter', async () => {
    const namespace = ns();
    const cache = await makeCache({ namespace, ttlMs: 10_000, jitter: 0.1, l1: false });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => cache.getOrLoad(`k${i}`, async () => ({ value: { price: i }, version: 1 }))),
    );
    const ttls = await Promise.all(Array.from({ length: 40 }, (_, i) => redis.pttl(`${namespace}:k${i}`)));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(8_900);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(11_000);
    expect(new Set(ttls).size).toBeGreaterThan(20);
  });

  it('never lets an older version overwrite a newer one, even after an invalidation', async () => {
    const namespace = ns();
    const cache = await makeCache({ namespace });
    await cache.set('p', { price: 200 }, 2);
    // A slow loader that read version 1 before the update lands afterwards: refused.
    await cache.invalidate(['p'], 3);
    const result = await cache.getOrLoad('p', async () => ({ value: { price: 100 }, version: 1 }));
    expect(result.value).toEqual({ price: 100 }); // the caller still gets its answer…
    const stored = JSON.parse((await redis.get(`${namespace}:p`))!);
    expect(stored).toMatchObject({ ver: 3, tomb: true }); // …but the old row never reached Redis
    expect(cache.hasLocal('p')).toBe(false);
    const fresh = await cache.getOrLoad('p', async () => ({ value: { price: 300 }, version: 3 }));
    expect(fresh).toEqual({ value: { price: 300 }, tier: 'miss' });
    expect((await cache.getOrLoad('p', async () => null)).tier).toBe('l1');
  });

  it('serves a stale entry while one caller revalidates it', async () => {
    const cache = await makeCache({ namespace: ns(), ttlMs: 100, jitter: 0, staleMs: 5_000, l1: false });
    let version = 1;
    let loads = 0;
    const loader = async () => {
      loads++;
      return { value: { price: version }, version };
    };
    await cache.getOrLoad('s', loader);
    await sleep(150);
    version = 2;
    const [a, b] = await Promise.all([cache.getOrLoad('s', loader), cache.getOrLoad('s', loader)]);
    expect(a).toEqual({ value: { price: 1 }, tier: 'stale' });
    expect(b.tier).toBe('stale');
    await waitFor(async () => (await cache.getOrLoad('s', loader)).value?.price === 2, { description: 'refresh' });
    expect(loads).toBe(2);
  });

  it('drops another process’s L1 copy when a value changes', async () => {
    const namespace = ns();
    const child = track(
      spawn(process.execPath, [fixture, inject('redisUrl'), namespace], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const lines = lineReader(child.stdout!);
    expect(await lines.nextJson()).toEqual({ ready: true, tier: 'l1' });
    const cache = await makeCache({ namespace });
    await cache.set('p1', { price: 250 }, 2);
    expect(await lines.nextJson(3000)).toEqual({ dropped: true, value: { price: 250 }, tier: 'l2' });
    await once(child, 'exit');
  });

  it('leaves no stale L1 copy after a subscriber outage that swallowed an invalidation', async () => {
    const namespace = ns();
    const subscriber = connect('subscriber');
    await waitFor(() => subscriber.status === 'ready', { description: 'subscriber ready' });
    const subscriberId = await subscriber.client('ID');
    const reader = new TwoTierCache<Product>(connect(), subscriber, { namespace, l1: { max: 10, ttlMs: 60_000 } });
    await reader.start();
    const writer = await makeCache({ namespace }, false);
    await reader.getOrLoad('p', async () => ({ value: { price: 1 }, version: 1 }));
    expect(reader.hasLocal('p')).toBe(true);

    await redis.client('KILL', 'ID', String(subscriberId));
    await writer.set('p', { price: 2 }, 2);
    // Nobody heard it: the only subscriber was the one we cut off.
    expect(await redis.pubsub('NUMSUB', `cache:invalidate:${namespace}`)).toEqual([`cache:invalidate:${namespace}`, 0]);
    await waitFor(() => subscriber.status === 'ready', { description: 'subscriber to reconnect' });
    await waitFor(async () => ((await redis.pubsub('NUMSUB', `cache:invalidate:${namespace}`)) as unknown[])[1] === 1, {
      description: 're-subscription',
    });
    expect(reader.hasLocal('p')).toBe(false);
    expect(await reader.getOrLoad('p', async () => ({ value: { price: 1 }, version: 1 }))).toEqual({
      value: { price: 2 },
      tier: 'l2',
    });
  });

  it('falls back to the loader when the cache Redis is unreachable', async () => {
    const dead = createRedis({ url: 'redis://127.0.0.1:1' }, { role: 'producer' });
    dead.on('error', () => {});
    opened.push(dead);
    const cache = new TwoTierCache<Product>(dead, undefined, { namespace: ns() });
    expect(await cache.getOrLoad('x', async () => ({ value: { price: 5 }, version: 1 }))).toEqual({
      value: { price: 5 },
      tier: 'miss',
    });
  });
});

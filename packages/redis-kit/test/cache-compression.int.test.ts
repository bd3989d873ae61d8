import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Loaded } from '../src/cache/entry.js';
import { TwoTierCache } from '../src/cache/two-tier-cache.js';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';

type Product = { name: string; description: string; version: number };
const ns = () => `testzip${Math.random().toString(36).slice(2, 8)}`;
// A product page's prose: repetitive as real descriptions are (not random bytes, which do not compress).
const description = Array.from(
  { length: 40 },
  (_, i) => `Roasted in small batches, note ${i}: cocoa, cherry and a long finish.`,
).join(' ');

let redis: RedisClient;
beforeAll(() => {
  redis = createRedis({ url: inject('redisUrl') });
});
afterAll(() => redis.disconnect());

const cacheOf = (namespace: string, compression?: { minBytes: number }, registry?: Registry) =>
  new TwoTierCache<Product>(redis, undefined, { namespace, l1: false, compression, registry });
const loaderOf =
  (version: number): (() => Promise<Loaded<Product>>) =>
  async () => ({
    value: { name: 'Beans', description, version },
    version,
  });

describe('cache value compression', () => {
  it('stores a large value Brotli-compressed (smaller, its version still readable) and reads it back', async () => {
    const namespace = ns();
    const registry = new Registry();
    const cache = cacheOf(namespace, { minBytes: 1024 }, registry);
    await cache.getOrLoad('a', loaderOf(3));
    const stored = (await redis.get(`${namespace}:a`))!;
    const envelope = JSON.parse(stored) as { ver: number; z: string; d: string; v?: unknown };
    expect(envelope).toMatchObject({ ver: 3, z: 'br' });
    expect(envelope.v).toBeUndefined();
    expect(stored).not.toContain('cocoa');
    const plainLength = JSON.stringify({ name: 'Beans', description, version: 3 }).length;
    expect(stored.length).toBeLessThan(plainLength / 4);
    expect(await cache.getOrLoad('a', loaderOf(3))).toEqual({ value: { name: 'Beans', description, version: 3 }, tier: 'l2' });
    const metrics = await registry.getSingleMetricAsString('cache_value_bytes_total');
    expect(metrics).toMatch(new RegExp(`form="raw"} ${plainLength}`));
    // The versioned set still compares versions inside the envelope: an older row never overwrites it.
    await cache.set('a', { name: 'Old', description, version: 2 }, 2);
    expect((await cache.getOrLoad('a', loaderOf(3))).value?.version).toBe(3);
  });

  it('leaves small values plain, and reads entries across instances with compression on and off', async () => {
    const namespace = ns();
    const zipping = cacheOf(namespace, { minBytes: 1024 });
    const plain = cacheOf(namespace);
    await zipping.set('small', { name: 'Mug', description: 'white', version: 1 }, 1);
    expect(JSON.parse((await redis.get(`${namespace}:small`))!).v).toMatchObject({ name: 'Mug' });
    // Written compressed, read by an instance with compression off; and the other way round.
    await zipping.set('big', { name: 'Beans', description, version: 1 }, 1);
    expect((await plain.getOrLoad('big', loaderOf(9))).value?.version).toBe(1);
    await plain.set('old', { name: 'Kettle', description, version: 1 }, 1);
    expect(JSON.parse((await redis.get(`${namespace}:old`))!).v.name).toBe('Kettle');
    expect(await zipping.getOrLoad('old', loaderOf(9))).toMatchObject({ tier: 'l2', value: { name: 'Kettle' } });
  });

  it('treats an entry in an unknown codec as a miss, and the load replaces it', async () => {
    const namespace = ns();
    await redis.set(`${namespace}:a`, JSON.stringify({ ver: 1, fresh: Date.now() + 60_000, z: 'zz', d: 'AAAA' }));
    const cache = cacheOf(namespace, { minBytes: 1024 });
    expect(await cache.getOrLoad('a', loaderOf(2))).toMatchObject({ tier: 'miss', value: { version: 2 } });
    expect(JSON.parse((await redis.get(`${namespace}:a`))!)).toMatchObject({ ver: 2, z: 'br' });
  });
});

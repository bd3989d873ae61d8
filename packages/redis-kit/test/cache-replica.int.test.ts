import { adminCommand, type SentinelTopology, startSentinelTopology, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwoTierCache } from '../src/cache/two-tier-cache.js';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';

/**
 * Replica reads for the cache on a real Sentinel topology (a primary, a replica, three
 * Sentinels): L2 reads are served by the replica, an entry older than an invalidation the
 * instance heard is read again from the primary, and reads stay correct across a failover.
 */
type Product = { price: number };
let topology: SentinelTopology;
const opened: RedisClient[] = [];
const connect = (options: { role?: 'command' | 'subscriber'; readFrom?: 'primary' | 'replica' } = {}) => {
  const client = createRedis(
    { url: 'redis://127.0.0.1:6379', sentinels: topology.sentinelAddresses, sentinelName: topology.masterName },
    options,
  );
  client.on('error', () => {});
  opened.push(client);
  return client;
};
/** `GET`s a node has served so far (INFO commandstats). */
const gets = async (port: number) =>
  Number(/cmdstat_get:calls=(\d+)/.exec(String(await adminCommand(port, 'INFO', 'commandstats')))?.[1] ?? 0);
const replicated = (port: number, key: string, text: RegExp) =>
  waitFor(async () => text.test(String((await adminCommand(port, 'GET', key)) ?? '')), { description: `${key} replicated` });

beforeAll(async () => {
  topology = await startSentinelTopology();
}, 60_000);
afterAll(async () => {
  for (const c of opened) c.disconnect();
  await topology?.stop();
});

const cache = async (
  namespace: string,
  { replica = true, subscriber = true, registry }: { replica?: boolean; subscriber?: boolean; registry?: Registry } = {},
) => {
  const c = new TwoTierCache<Product>(connect(), subscriber ? connect({ role: 'subscriber' }) : undefined, {
    namespace,
    l1: { max: 100, ttlMs: 60_000 },
    ...(replica ? { replicaReads: connect({ readFrom: 'replica' }) } : {}),
    ...(registry ? { registry } : {}),
  });
  await c.start();
  return c;
};

describe('TwoTierCache with replica reads (Sentinel)', () => {
  it('serves L2 reads from the replica, not the primary', async () => {
    const writer = await cache('rr1', { replica: false });
    await writer.set('a', { price: 1 }, 1);
    await replicated(topology.replica.port, 'rr1:a', /"price":1/);
    const reader = await cache('rr1');
    const [primaryBefore, replicaBefore] = [await gets(topology.primary.port), await gets(topology.replica.port)];
    for (let i = 0; i < 20; i++) {
      const fresh = await cache('rr1', { subscriber: false });
      expect(await fresh.getOrLoad('a', async () => ({ value: { price: -1 }, version: 0 }))).toEqual({
        value: { price: 1 },
        tier: 'l2',
      });
    }
    expect(await reader.getOrLoad('a', async () => ({ value: { price: -1 }, version: 0 }))).toEqual({
      value: { price: 1 },
      tier: 'l2',
    });
    expect((await gets(topology.replica.port)) - replicaBefore).toBeGreaterThanOrEqual(21);
    expect((await gets(topology.primary.port)) - primaryBefore).toBe(0);
  });

  it('does not serve a replica entry older than an invalidation it heard: it reads the primary instead', async () => {
    const registry = new Registry();
    const writer = await cache('rr2', { replica: false });
    const reader = await cache('rr2', { registry });
    const unaware = await cache('rr2', { subscriber: false });
    await writer.set('b', { price: 1 }, 1);
    await replicated(topology.replica.port, 'rr2:b', /"price":1/);
    const v1 = String(await adminCommand(topology.replica.port, 'GET', 'rr2:b'));
    // A lagging replica: version 2 is on the primary, the replica still holds version 1.
    await adminCommand(topology.replica.port, 'CONFIG', 'SET', 'replica-read-only', 'no');
    try {
      await writer.set('b', { price: 2 }, 2);
      await replicated(topology.replica.port, 'rr2:b', /"price":2/);
      await adminCommand(topology.replica.port, 'SET', 'rr2:b', v1);
      await waitFor(() => !reader.hasLocal('b'), { description: 'the reader heard the invalidation' });
      await waitFor(
        async () => /cache_invalidations_total\{namespace="rr2",direction="received"\} [2-9]/.test(await registry.metrics()),
        {
          description: 'invalidation received',
        },
      );
      expect(await reader.getOrLoad('b', async () => ({ value: { price: -1 }, version: 0 }))).toEqual({
        value: { price: 2 },
        tier: 'l2',
      });
      expect(await registry.getSingleMetricAsString('cache_replica_reads_total')).toContain('outcome="behind"} 1');
      // What replica reads allow: an instance that has heard nothing gets what the replica has
      // (stale by the replication delay; here, on purpose, by one version).
      expect((await unaware.getOrLoad('b', async () => ({ value: { price: -1 }, version: 0 }))).value).toEqual({ price: 1 });
    } finally {
      await adminCommand(topology.replica.port, 'CONFIG', 'SET', 'replica-read-only', 'yes');
    }
  });

  it('keeps reading correctly when the primary fails and the replica takes over', async () => {
    const writer = await cache('rr3', { replica: false });
    await writer.set('c', { price: 3 }, 1);
    await replicated(topology.replica.port, 'rr3:c', /"price":3/);
    const reader = await cache('rr3', { subscriber: false });
    expect((await reader.getOrLoad('c', async () => ({ value: { price: -1 }, version: 0 }))).value).toEqual({ price: 3 });
    await topology.primary.stop('SIGKILL');
    await waitFor(async () => (await topology.currentPrimaryPort()) === topology.replica.port, {
      timeoutMs: 30_000,
      description: 'failover',
    });
    const after = await cache('rr3', { subscriber: false });
    await waitFor(
      async () => {
        const r = await after.getOrLoad('c', async () => ({ value: { price: -1 }, version: 0 })).catch(() => undefined);
        return r?.tier === 'l2' && r.value?.price === 3;
      },
      { timeoutMs: 20_000, description: 'L2 reads answered after the failover' },
    );
  }, 60_000);
});

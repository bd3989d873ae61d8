import {
  type RedisCluster,
  type SentinelTopology,
  startCluster,
  startRedisServer,
  startSentinelTopology,
  waitFor,
} from '@storefront/testing';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwoTierCache } from '../src/cache/two-tier-cache.js';
import { clusterShards, shardForSlot } from '../src/connections/cluster-shards.js';
import { type ConnectionRole, createRedis, type RedisClient } from '../src/connections/create-redis.js';
import type { RedisConfig } from '../src/connections/redis-config.js';
import { LockTimeoutError } from '../src/lock/errors.js';
import { RedisLock } from '../src/lock/redis-lock.js';
import { Discovery } from '../src/registry/discovery.js';
import { ServiceRegistration } from '../src/registry/service-registration.js';

/**
 * The lock, registry and cache claims again, on the distributed topologies: Sentinel
 * (including a primary failover under the same client objects) and Cluster (keys
 * spread over three primaries).
 */
const opened: RedisClient[] = [];
const clientFactory =
  (config: RedisConfig) =>
  (role: ConnectionRole = 'command') => {
    const c = createRedis(config, { role });
    c.on('error', () => {});
    opened.push(c);
    return c;
  };
afterAll(() => {
  for (const c of opened) c.disconnect();
});
const record = (service: string, instanceId: string) => ({
  service,
  instanceId,
  host: '127.0.0.1',
  port: 1,
  startedAt: new Date().toISOString(),
});

const sharedClaims = (name: string, connect: () => (role?: ConnectionRole) => RedisClient) => {
  it(`${name}: the lock excludes a second holder and fences grow, for keys on any shard`, async () => {
    const client = connect();
    const [a, b] = [new RedisLock(client(), { acquireTimeoutMs: 100 }), new RedisLock(client(), { acquireTimeoutMs: 100 })];
    const keys = ['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => `catalog:lock:{stock:${p}}`);
    await a.withLocks(keys, async (leases) => {
      await expect(b.acquire(keys[2]!)).rejects.toThrow(LockTimeoutError);
      expect(leases.size).toBe(5);
    });
    const first = await b.acquire(keys[0]!);
    expect(await first.release()).toBe(true);
    const again = await b.acquire(keys[0]!);
    expect(again.fence).toBe(first.fence + 1);
    await again.release();
  });

  it(`${name}: discovery hears a join and a leave`, async () => {
    const client = connect();
    const service = `svc${Math.random().toString(36).slice(2, 7)}`;
    const discovery = new Discovery(client(), client('subscriber'), service, { refreshMs: 60_000 });
    await discovery.start();
    const registration = new ServiceRegistration(client(), record(service, 'one'));
    await registration.start();
    await waitFor(() => discovery.instances().length === 1, { timeoutMs: 2000, description: 'join' });
    await registration.stop();
    await waitFor(() => discovery.instances().length === 0, { timeoutMs: 2000, description: 'leave' });
    await discovery.stop();
  });

  it(`${name}: a cache write in one instance drops another instance's L1 copy`, async () => {
    const client = connect();
    const namespace = `c${Math.random().toString(36).slice(2, 7)}`;
    const [reader, writer] = [0, 1].map(() => new TwoTierCache<{ p: number }>(client(), client('subscriber'), { namespace }));
    await Promise.all([reader!.start(), writer!.start()]);
    expect((await reader!.getOrLoad('x', async () => ({ value: { p: 1 }, version: 1 }))).tier).toBe('miss');
    expect((await reader!.getOrLoad('x', async () => null)).tier).toBe('l1');
    await writer!.set('x', { p: 2 }, 2);
    await waitFor(() => !reader!.hasLocal('x'), { timeoutMs: 2000, description: 'L1 drop' });
    expect(await reader!.getOrLoad('x', async () => null)).toEqual({ value: { p: 2 }, tier: 'l2' });
  });
};

describe('on Sentinel', () => {
  let topology: SentinelTopology;
  let connect: (role?: ConnectionRole) => RedisClient;
  beforeAll(async () => {
    topology = await startSentinelTopology();
    connect = clientFactory({
      url: 'redis://127.0.0.1:6379',
      sentinels: topology.sentinelAddresses,
      sentinelName: topology.masterName,
    });
  }, 60_000);
  afterAll(() => topology?.stop());

  sharedClaims('Sentinel', () => connect);

  it('Sentinel: lock, registry and cache keep working across a primary failover with the same clients', async () => {
    const redis = connect();
    const lock = new RedisLock(redis);
    const lease = await lock.acquire('catalog:lock:{stock:failover}');
    const service = 'failover-svc';
    const registration = new ServiceRegistration(redis, record(service, 'survivor'), { ttlMs: 3000 });
    await registration.start();
    const discovery = new Discovery(connect(), connect('subscriber'), service, { refreshMs: 200 });
    await discovery.start();
    const cache = new TwoTierCache<{ p: number }>(connect(), connect('subscriber'), { namespace: 'fo', l1: false });
    await cache.start();
    await cache.set('item', { p: 1 }, 1);
    // Make sure the replica has everything before the primary dies (replication is asynchronous).
    await (redis as unknown as { wait(n: number, ms: number): Promise<number> }).wait(1, 2000);

    await topology.primary.stop('SIGKILL');
    await waitFor(async () => (await topology.currentPrimaryPort()) === topology.replica.port, {
      timeoutMs: 30_000,
      description: 'failover',
    });

    // A release sent while the client reconnects may time out and still run on the new
    // primary once it is reached (the command stays queued): then the next attempt finds
    // the lock gone (false). Either way the lock must end up released there.
    await waitFor(async () => typeof (await lease.release().catch(() => undefined)) === 'boolean', {
      timeoutMs: 20_000,
      description: 'release on new primary',
    });
    expect(await redis.exists('catalog:lock:{stock:failover}')).toBe(0);
    const next = await lock.acquire('catalog:lock:{stock:failover}');
    expect(next.fence).toBe(lease.fence + 1);
    await next.release();
    expect((await cache.getOrLoad('item', async () => null)).value).toEqual({ p: 1 });
    // The instance never vanished from discovery: heartbeats moved to the new primary.
    await waitFor(
      async () => {
        await discovery.refresh();
        return discovery.instances().length === 1 && registration.fresh;
      },
      { timeoutMs: 10_000, description: 'registration on new primary' },
    );
    await registration.stop();
    await discovery.stop();
  }, 90_000);
});

describe('on Cluster', () => {
  let cluster: RedisCluster;
  let connect: (role?: ConnectionRole) => RedisClient;
  beforeAll(async () => {
    cluster = await startCluster();
    connect = clientFactory({ url: 'redis://127.0.0.1:6379', clusterNodes: cluster.seeds });
  }, 60_000);
  afterAll(() => cluster?.stop());

  sharedClaims('Cluster', () => connect);

  it('clusterShards lists each primary with its slots and replicas as the Cluster reports them, and follows a moved slot', async () => {
    const client = connect();
    try {
      const shards = (await clusterShards(client))!;
      expect(shards.map((s) => Number(s.primary.split(':')[1])).sort()).toEqual(
        (await cluster.topology())
          .filter((n) => n.role === 'primary')
          .map((n) => n.port)
          .sort(),
      );
      expect(shards.flatMap((s) => s.slots).reduce((n, [a, b]) => n + b - a + 1, 0)).toBe(16384);
      const slot = calculateSlot('shard-map-probe');
      const from = shardForSlot(shards, slot)!;
      const to = shards.find((s) => s !== from)!;
      await cluster.migrateSlot(slot, Number(to.primary.split(':')[1]));
      await waitFor(async () => shardForSlot((await clusterShards(client))!, slot)?.primary === to.primary, {
        description: 'the moved slot on its new primary',
      });
    } finally {
      client.disconnect();
    }
  });

  it('clusterShards is undefined for a client that is not a Cluster client', async () => {
    const server = await startRedisServer();
    const client = createRedis({ url: server.url });
    try {
      expect(await clusterShards(client)).toBeUndefined();
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});

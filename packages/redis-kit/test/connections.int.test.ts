import { adminCommand, startCluster, startRedisServer, startSentinelTopology, waitFor } from '@storefront/testing';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../src/connections/create-redis.js';
import { assertNoEviction, EvictionPolicyError } from '../src/connections/eviction-policy.js';

describe('createRedis (standalone)', () => {
  it('authenticates as an ACL user from the URL and is held to its key patterns', async () => {
    const server = await startRedisServer({
      config: ['user default off', 'user catalog on >catalog-secret ~catalog:* +@all -@dangerous'],
    });
    const client = createRedis({ url: `redis://catalog:catalog-secret@127.0.0.1:${server.port}` });
    try {
      expect(await client.set('catalog:x', '1')).toBe('OK');
      await expect(client.set('order:x', '1')).rejects.toThrow(/NOPERM/);
      await expect(client.flushall()).rejects.toThrow(/NOPERM/);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('fails fast in the producer role while Redis is unreachable', async () => {
    const server = await startRedisServer();
    const client = createRedis({ url: server.url }, { role: 'producer' });
    client.on('error', () => {});
    await waitFor(() => client.status === 'ready', { description: 'client ready' });
    await client.ping();
    await server.stop();
    await waitFor(() => client.status !== 'ready', { description: 'client to notice the server is gone' });
    await expect(client.ping()).rejects.toThrow();
    client.disconnect();
  });
});

describe('assertNoEviction', () => {
  it('accepts a noeviction server and rejects one that evicts, naming the policy', async () => {
    const safe = await startRedisServer({ config: ['maxmemory-policy noeviction'] });
    const evicting = await startRedisServer({ config: ['maxmemory-policy allkeys-lru'] });
    const [a, b] = [createRedis({ url: safe.url }), createRedis({ url: evicting.url })];
    try {
      await expect(assertNoEviction(a)).resolves.toBeUndefined();
      await expect(assertNoEviction(b)).rejects.toThrow(EvictionPolicyError);
      await expect(assertNoEviction(b)).rejects.toThrow(/allkeys-lru/);
    } finally {
      a.disconnect();
      b.disconnect();
      await Promise.all([safe.stop(), evicting.stop()]);
    }
  });
});

describe('createRedis (Sentinel)', () => {
  it('keeps working through a primary failover without being recreated', async () => {
    const topology = await startSentinelTopology();
    const client = createRedis({
      url: 'redis://127.0.0.1:6379',
      sentinels: topology.sentinelAddresses,
      sentinelName: topology.masterName,
    });
    client.on('error', () => {});
    try {
      await client.set('k', 'before');
      await waitFor(async () => (await adminCommand(topology.replica.port, 'GET', 'k')) === 'before', {
        description: 'replication of k',
      });
      await topology.primary.stop('SIGKILL');
      await waitFor(async () => (await topology.currentPrimaryPort()) === topology.replica.port, {
        timeoutMs: 30_000,
        description: 'failover',
      });
      await waitFor(async () => (await client.set('k', 'after')) === 'OK', {
        timeoutMs: 20_000,
        description: 'write after failover',
      });
      expect(await adminCommand(topology.replica.port, 'GET', 'k')).toBe('after');
    } finally {
      client.disconnect();
      await topology.stop();
    }
  }, 60_000);
});

describe('createRedis (Cluster)', () => {
  it('routes keys to every shard and checks every primary for noeviction', async () => {
    const cluster = await startCluster({ config: ['maxmemory-policy noeviction'] });
    const client = createRedis({ url: 'redis://127.0.0.1:6379', clusterNodes: cluster.seeds });
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `key:${i}`);
      await Promise.all(keys.map((k) => client.set(k, k)));
      expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys);
      await assertNoEviction(client);
      const last = cluster.nodes.at(-1)!;
      await adminCommand(last.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      await expect(assertNoEviction(client)).rejects.toThrow(/allkeys-lru/);
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  }, 60_000);
});

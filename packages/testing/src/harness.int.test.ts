import { createServer, type Server } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand, infoFields } from './admin-client.js';
import { pidAlive } from './child-processes.js';
import { type RedisCluster, startCluster } from './cluster.js';
import { CLUSTER_BUS_OFFSET, freePort } from './free-port.js';
import { startRedisServer } from './redis-server.js';
import { type SentinelTopology, startSentinelTopology } from './sentinel.js';
import { waitFor } from './wait-for.js';

describe('startRedisServer', () => {
  it('starts a private redis-server that answers, and stop() ends its process', async () => {
    const server = await startRedisServer();
    expect(await adminCommand(server.port, 'PING')).toBe('PONG');
    expect(pidAlive(server.pid)).toBe(true);
    await server.stop();
    expect(pidAlive(server.pid)).toBe(false);
    await expect(adminCommand(server.port, 'PING')).rejects.toThrow();
  });

  it('applies extra config lines', async () => {
    const server = await startRedisServer({ config: ['maxmemory-policy noeviction'] });
    try {
      expect(await adminCommand(server.port, 'CONFIG', 'GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      await server.stop();
    }
  });

  it('rejects with a clear message when the port is taken', async () => {
    const first = await startRedisServer();
    try {
      await expect(startRedisServer({ port: first.port })).rejects.toThrow(/exited|Address already in use/);
    } finally {
      await first.stop();
    }
  });
});

const listenOn = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('Cluster node ports', () => {
  it('a Cluster node cannot start while its bus port (port + 10 000) is held by another socket', async () => {
    const port = await freePort({ clusterBus: true });
    const holder = await listenOn(port + CLUSTER_BUS_OFFSET);
    try {
      await expect(startRedisServer({ port, config: ['cluster-enabled yes'] })).rejects.toThrow(/Address already in use/);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('freePort({ clusterBus }) gives ports whose bus port is free and below the ephemeral range', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort({ clusterBus: true });
      expect(port + CLUSTER_BUS_OFFSET).toBeLessThan(32_768);
      const both = [await listenOn(port), await listenOn(port + CLUSTER_BUS_OFFSET)];
      await Promise.all(both.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it('startRedisServer picks such a port for a Cluster node', async () => {
    const node = await startRedisServer({ config: ['cluster-enabled yes'] });
    try {
      expect(node.port + CLUSTER_BUS_OFFSET).toBeLessThan(32_768);
      expect((await infoFields(node.port, 'cluster')).cluster_enabled).toBe('1');
    } finally {
      await node.stop();
    }
  });
});

describe('startSentinelTopology', () => {
  let topology: SentinelTopology;
  beforeAll(async () => {
    topology = await startSentinelTopology({ downAfterMs: 1000 });
  }, 60_000);
  afterAll(() => topology?.stop());

  it('elects the replica as primary after the primary is killed, and clients follow', async () => {
    expect(await topology.currentPrimaryPort()).toBe(topology.primary.port);
    const client = new Redis({ sentinels: topology.sentinelAddresses, name: topology.masterName, maxRetriesPerRequest: null });
    client.on('error', () => {});
    try {
      await client.set('before-failover', '1');
      await waitFor(async () => (await infoFields(topology.replica.port, 'replication')).master_repl_offset !== '0', {
        description: 'replica to receive the write',
      });
      // Killed, not stop()ped: its directory stays, for restartNode in the next test (as the chaos suite does).
      process.kill(topology.primary.pid, 'SIGKILL');
      const newPrimary = await waitFor(
        async () => ((await topology.currentPrimaryPort()) === topology.replica.port ? topology.replica.port : false),
        { timeoutMs: 30_000, description: 'sentinels to promote the replica' },
      );
      expect(newPrimary).toBe(topology.replica.port);
      expect((await infoFields(topology.replica.port, 'replication')).role).toBe('master');
      // The same client object reconnects to the new primary through the Sentinels.
      await waitFor(async () => (await client.set('after-failover', '1')) === 'OK', {
        timeoutMs: 20_000,
        description: 'client to write to the new primary',
      });
      expect(await client.get('before-failover')).toBe('1');
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it("brings a killed primary back empty as the new primary's replica, never as a second primary", async () => {
    // Runs after the failover above: the original primary (whose config has no `replicaof`) is the dead node.
    const primaryPort = await topology.currentPrimaryPort();
    const dead = topology.dataNodes().find((n) => n.port !== primaryPort)!;
    const restarted = await topology.restartNode(dead.port);
    const role = (await adminCommand(restarted.port, 'ROLE')) as [string, string?, number?];
    expect(role[0]).toBe('slave');
    expect(Number(role[2])).toBe(primaryPort);
  }, 30_000);
});

describe('startCluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('forms a cluster whose every node reports cluster_state:ok', async () => {
    for (const node of cluster.nodes) {
      expect(String(await adminCommand(node.port, 'CLUSTER', 'INFO'))).toContain('cluster_state:ok');
    }
  });

  it('serves keys on every slot range through a cluster client', async () => {
    const client = new Cluster(cluster.seeds);
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await Promise.all(ids.map((k) => client.set(k, k)));
      expect(await Promise.all(ids.map((k) => client.get(k)))).toEqual(ids);
      const owners = await Promise.all(cluster.nodes.map(async (n) => Number(await adminCommand(n.port, 'DBSIZE'))));
      expect(owners.filter((count) => count > 0).length).toBe(3);
    } finally {
      client.disconnect();
    }
  });
});

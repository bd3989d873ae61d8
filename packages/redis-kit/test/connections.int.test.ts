import {
  adminCommand,
  infoFields,
  type SentinelTopology,
  startCluster,
  startRedisServer,
  startSentinelTopology,
  waitFor,
} from '@storefront/testing';
import calculateSlot from 'cluster-key-slot';
import { type Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../src/connections/create-redis.js';
import { assertNoEviction, EvictionPolicyError } from '../src/connections/eviction-policy.js';
import { isRedisUnavailable } from '../src/connections/unavailable.js';
import { NotReplicatedError, replicaAcknowledgement } from '../src/connections/wait-for-replicas.js';

/** A command client of a Sentinel topology, errors (expected while nodes die) silenced. */
const sentinelClient = (topology: SentinelTopology) => {
  const client = createRedis({
    url: 'redis://127.0.0.1:6379',
    sentinels: topology.sentinelAddresses,
    sentinelName: topology.masterName,
  });
  client.on('error', () => {});
  return client;
};

/** The ports of the replicas a primary's `ROLE` lists as connected (what replicaAcknowledgement reads). */
const connectedReplicaPorts = async (primaryPort: number): Promise<number[]> => {
  const [, , replicas] = (await adminCommand(primaryPort, 'ROLE')) as [string, number, [string, string, string][]];
  return replicas.map(([, port]) => Number(port));
};

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

  it("reports a failed automatic re-subscription as the client's error, not an unhandled rejection that would end the process", async () => {
    const server = await startRedisServer({
      config: ['user default off', 'user watcher on >watcher-secret resetchannels &news:* +@all -@dangerous +info'],
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const subscriber = createRedis({ url: `redis://watcher:watcher-secret@127.0.0.1:${server.port}` }, { role: 'subscriber' });
    const errors: Error[] = [];
    subscriber.on('error', (e: Error) => errors.push(e));
    try {
      await subscriber.subscribe('news:today');
      // The channel is taken away: Redis drops the subscribed connection, ioredis reconnects
      // and re-subscribes by itself, and Redis refuses it.
      await adminCommand(server.port, 'ACL', 'SETUSER', 'watcher', 'resetchannels', '&other:*');
      await waitFor(() => errors.some((e) => /NOPERM/.test(e.message)), {
        description: 'the refused re-subscription reported as an error',
        timeoutMs: 5_000,
      });
      // Give an unhandled rejection the turn it would need to be reported.
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      // A caller that awaits its own subscribe still gets its rejection.
      await expect(subscriber.subscribe('news:tomorrow')).rejects.toThrow(/NOPERM/);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      subscriber.disconnect();
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
    const error = await client.ping().catch((e: unknown) => e);
    expect(isRedisUnavailable(error)).toBe(true);
    client.disconnect();
  });

  it('answers within the command timeout when the server is frozen (SIGSTOP), as "unavailable"', async () => {
    const server = await startRedisServer();
    const client = createRedis({ url: server.url }, { commandTimeoutMs: 300 });
    client.on('error', () => {});
    try {
      await client.ping();
      process.kill(server.pid, 'SIGSTOP');
      const started = performance.now();
      const error = await client.get('x').catch((e: unknown) => e);
      const tookMs = performance.now() - started;
      expect(isRedisUnavailable(error)).toBe(true);
      expect(tookMs).toBeGreaterThanOrEqual(250);
      expect(tookMs).toBeLessThan(1_000);
      process.kill(server.pid, 'SIGCONT');
      await waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', { description: 'answers again' });
    } finally {
      process.kill(server.pid, 'SIGCONT');
      client.disconnect();
      await server.stop();
    }
  });

  it('answers a command queued while the server is down within the command timeout, as "unavailable"', async () => {
    const server = await startRedisServer();
    // Reconnects back off to 2 s and retries allow 3 reconnects: only the timeout bounds the wait.
    const client = createRedis({ url: server.url }, { commandTimeoutMs: 400 });
    client.on('error', () => {});
    await client.ping();
    await server.stop();
    await waitFor(() => client.status !== 'ready', { description: 'client to notice the server is gone' });
    const started = performance.now();
    const error = await client.get('x').catch((e: unknown) => e);
    expect(isRedisUnavailable(error)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    client.disconnect();
  });

  it('tells a wrong command from an unavailable server', async () => {
    const server = await startRedisServer();
    const client = createRedis({ url: server.url });
    try {
      await client.set('s', 'text');
      const wrongType = await client.incr('s').catch((e: unknown) => e);
      expect(wrongType).toBeInstanceOf(Error);
      expect(isRedisUnavailable(wrongType)).toBe(false);
      expect(isRedisUnavailable(new Error('LOADING Redis is loading the dataset in memory'))).toBe(true);
      expect(isRedisUnavailable(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    } finally {
      client.disconnect();
      await server.stop();
    }
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
    const client = sentinelClient(topology);
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
  it('revives a Sentinel client that a failover ended mid-connect (ioredis failoverDetector race), and its duplicates', async () => {
    const topology = await startSentinelTopology();
    let revived = 0;
    const config = { url: 'redis://127.0.0.1:6379', sentinels: topology.sentinelAddresses, sentinelName: topology.masterName };
    const client = createRedis(config, { onRevive: () => revived++ });
    // BullMQ runs a worker's blocking reads on a duplicate of the connection it is given.
    const duplicate = (client as Redis).duplicate();
    const victims = [client, duplicate];
    const ended: string[] = [];
    for (const [i, c] of victims.entries()) {
      c.on('error', () => {});
      c.on('end', () => ended.push(`client ${i}`));
      await c.client('SETNAME', 'victim');
    }
    const [asked] = topology.sentinels;
    const observer = new Redis({ host: '127.0.0.1', port: topology.sentinels[1]!.port, connectionName: 'observer' });
    await observer.subscribe('+switch-master');
    try {
      // Each client's failover detector subscribes to +switch-master on every Sentinel once it
      // is connected (the test's own observer, named, is not counted).
      const detectors = async () => {
        const list = String(await adminCommand(topology.sentinels[1]!.port, 'CLIENT', 'LIST'));
        return list.split('\n').filter((line) => / sub=1 /.test(line) && !/ name=observer /.test(line)).length;
      };
      await waitFor(async () => (await detectors()) === 2, { description: 'both failover detectors subscribed' });
      // 1. Freeze the Sentinel the clients ask, and drop their connections: they start resolving the primary and wait.
      process.kill(asked!.pid, 'SIGSTOP');
      await adminCommand(topology.primary.port, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitFor(() => victims.every((c) => c.status === 'connecting'), { description: 'clients resolving the primary' });
      // 2. A failover announced meanwhile (+switch-master from another Sentinel) disconnects their
      //    connectors. The test hears the announcement on the same Sentinel as their detectors do.
      const heard = new Promise<void>((resolve) => observer.once('message', () => resolve()));
      await adminCommand(topology.sentinels[1]!.port, 'SENTINEL', 'FAILOVER', topology.masterName);
      await heard;
      // A detector that hears it disconnects the connector, which closes the detector's own
      // Sentinel connections: once none is left, both connects in flight are cancelled. (The
      // observer hearing it first says nothing about when the detectors' copies are read.)
      await waitFor(async () => (await detectors()) === 0, { description: 'both detectors reacted to the failover' });
      // 3. The frozen Sentinel answers: the connect that was in flight is rejected, and ioredis sets `end`.
      process.kill(asked!.pid, 'SIGCONT');
      await waitFor(() => new Set(ended).size === 2, { description: 'both clients ended by ioredis' });
      // Without the revival they stay `end` for good ("Connection is closed.").
      for (const c of victims) {
        await waitFor(async () => (await c.set('after', '1').catch(() => '')) === 'OK', {
          timeoutMs: 10_000,
          description: 'a write on the new primary',
        });
      }
      expect(revived).toBe(2);
      expect(await adminCommand(topology.replica.port, 'GET', 'after')).toBe('1');
    } finally {
      process.kill(asked!.pid, 'SIGCONT');
      observer.disconnect();
      for (const c of victims) c.disconnect();
      await topology.stop();
    }
  }, 60_000);

  it('leaves a client closed on purpose (quit or disconnect) closed', async () => {
    const server = await startRedisServer();
    let revived = 0;
    const [quitting, disconnected] = [0, 1].map(() => createRedis({ url: server.url }, { onRevive: () => revived++ }));
    try {
      await Promise.all([quitting!.ping(), disconnected!.ping()]);
      await quitting!.quit();
      disconnected!.disconnect();
      await waitFor(() => quitting!.status === 'end' && disconnected!.status === 'end', { description: 'both ended' });
      // Give a wrongly scheduled revival (100 ms) its chance to show.
      await new Promise((r) => setTimeout(r, 300));
      expect([quitting!.status, disconnected!.status, revived]).toEqual(['end', 'end', 0]);
    } finally {
      await server.stop();
    }
  });
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

  it('a producer (no offline queue) whose Cluster is gone fails fast with an error read as "unavailable"', async () => {
    const cluster = await startCluster();
    const client = createRedis({ url: 'redis://127.0.0.1:6379', clusterNodes: cluster.seeds }, { role: 'producer' });
    client.on('error', () => {});
    try {
      await waitFor(() => client.status === 'ready', { description: 'client ready' });
      await client.set('k', '1');
      await cluster.stop();
      const started = performance.now();
      const error = await client.get('k').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(isRedisUnavailable(error), (error as Error).message).toBe(true);
      expect(performance.now() - started, (error as Error).message).toBeLessThan(1_000);
      // What ioredis says when a failover keeps redirecting a command past its budget.
      expect(isRedisUnavailable(new Error('Too many Cluster redirections. Last error: Error: TRYAGAIN'))).toBe(true);
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  }, 60_000);
});

describe('replicaAcknowledgement', () => {
  it('waits for a replica to have the writes, refuses while it cannot or when the connection was re-established, and skips a primary without replicas', async () => {
    const primary = await startRedisServer();
    const replica = await startRedisServer({ config: [`replicaof 127.0.0.1 ${primary.port}`] });
    const client = createRedis({ url: primary.url });
    client.on('error', () => {});
    const alone = await startRedisServer();
    const soloClient = createRedis({ url: alone.url });
    try {
      // In sync from both sides: the replica's link is up and the primary's ROLE (what
      // replicaAcknowledgement reads) lists it, which may come a moment after INFO does.
      await waitFor(
        async () =>
          (await infoFields(replica.port, 'replication')).master_link_status === 'up' &&
          (await connectedReplicaPorts(primary.port)).length >= 1,
        { description: 'replica in sync' },
      );
      // A replica that answers is waited for as long as it takes (a busy machine can take more
      // than the short timeout below); a frozen one makes the short timeout run out.
      const acknowledged = replicaAcknowledgement(client, { timeoutMs: 5_000, roleCacheMs: 0 });
      const impatient = replicaAcknowledgement(client, { timeoutMs: 300, roleCacheMs: 0 });
      expect(await acknowledged(() => client.set('k', '1'))).toBe('OK');
      expect(await adminCommand(replica.port, 'GET', 'k')).toBe('1');
      // A replica that cannot take the write (frozen): the write is not acknowledged.
      process.kill(replica.pid, 'SIGSTOP');
      const error = await impatient(() => client.set('k', '2')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotReplicatedError);
      expect(isRedisUnavailable(error)).toBe(true);
      process.kill(replica.pid, 'SIGCONT');
      await waitFor(
        async () =>
          await acknowledged(async () => {}).then(
            () => true,
            () => false,
          ),
        { description: 'acknowledged after thaw' },
      );
      expect(await adminCommand(replica.port, 'GET', 'k')).toBe('2');
      // The socket closes after the write: the WAIT would be answered on the next connection,
      // where it covers nothing (after a failover, on the promoted replica), so it is refused.
      const closed = new Promise((resolve) => client.once('close', resolve));
      const reconnected = await acknowledged(async () => {
        await client.set('k', '3');
        client.disconnect(true);
        await closed;
      }).catch((e: unknown) => e);
      expect(reconnected).toBeInstanceOf(NotReplicatedError);
      expect((reconnected as NotReplicatedError).reconnected).toBe(true);
      // The next writes, on the new connection, are acknowledged again.
      expect(await acknowledged(() => client.set('k', '4'))).toBe('OK');
      expect(await adminCommand(replica.port, 'GET', 'k')).toBe('4');
      // No replica at all: nothing to wait for.
      const started = performance.now();
      await replicaAcknowledgement(soloClient, { timeoutMs: 300 })(async () => {});
      expect(performance.now() - started).toBeLessThan(200);
    } finally {
      process.kill(replica.pid, 'SIGCONT');
      client.disconnect();
      soloClient.disconnect();
      await Promise.all([primary.stop(), replica.stop(), alone.stop()]);
    }
  });

  it('on Sentinel, waits for a replica the primary lost (Sentinel can still promote it): refuses until one is back and in sync, then it has the writes', async () => {
    const topology = await startSentinelTopology();
    const client = sentinelClient(topology);
    try {
      const acknowledged = replicaAcknowledgement(client, { timeoutMs: 300, roleCacheMs: 0 });
      await waitFor(async () => (await connectedReplicaPorts(topology.primary.port)).length === 1, {
        description: 'replica listed by the primary',
      });
      // A replica that answers is waited for as long as it takes (a busy machine can take more than 300 ms).
      expect(await replicaAcknowledgement(client, { timeoutMs: 5_000 })(() => client.set('k', '1'))).toBe('OK');
      // The replica gone (killed; after a failover: the old primary not back yet, or still in
      // its first full sync): the primary lists no replica, but a write is still not safe.
      process.kill(topology.replica.pid, 'SIGKILL');
      await waitFor(async () => (await connectedReplicaPorts(topology.primary.port)).length === 0, {
        description: 'the primary to see its replica gone',
      });
      const refused = await acknowledged(() => client.set('k', '2')).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NotReplicatedError);
      // What a standalone client does (and this one did before): no replica, no wait.
      await replicaAcknowledgement(client, { timeoutMs: 300, roleCacheMs: 0, requireReplica: false })(() => client.set('k', '3'));
      // The replica back, empty: once it is in sync, writes are acknowledged and it has them.
      const back = await topology.restartNode(topology.replica.port);
      await waitFor(
        () =>
          acknowledged(() => client.set('k', '4')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 15_000, description: 'acknowledged once the replica is back' },
      );
      expect(await adminCommand(back.port, 'GET', 'k')).toBe('4');
    } finally {
      client.disconnect();
      await topology.stop();
    }
  }, 60_000);

  it("on a Cluster, waits on the primary of each written slot: refuses while that primary's replica is frozen, after a failover moved the slot, and while a replica it has is gone", async () => {
    const cluster = await startCluster({ replicasPerPrimary: 1 });
    const client = createRedis({ url: 'redis://127.0.0.1:6379', clusterNodes: cluster.seeds });
    client.on('error', () => {});
    try {
      const key = 'ack:{probe}';
      const primaryPort = await cluster.primaryForSlot(calculateSlot(key));
      const replicaOf = async (port: number) => {
        const view = await cluster.topology();
        const primaryId = view.find((n) => n.port === port)!.id;
        return cluster.nodes.find((n) => n.port === view.find((v) => v.primaryId === primaryId)!.port)!;
      };
      const acknowledged = replicaAcknowledgement(client, { timeoutMs: 300, roleCacheMs: 0 });
      await client.set('warm', '1'); // connected, so the primaries are known before the writes
      const replica = await replicaOf(primaryPort);
      // A primary with no replica connected acknowledges at once (nothing to lose the write
      // to), so first wait until this one's replica is connected to it (slow on a loaded machine).
      await waitFor(async () => (await connectedReplicaPorts(primaryPort)).includes(replica.port), {
        timeoutMs: 15_000,
        description: "the slot's replica connected to its primary",
      });
      // Its first sync may still be slower than the 300 ms budget: wait until a write is acknowledged at all.
      await waitFor(
        async () =>
          acknowledged(() => client.set(key, '1')).then(
            (answer) => answer === 'OK',
            () => false,
          ),
        { timeoutMs: 15_000, description: 'the replicas in sync' },
      );
      // A Cluster replica serves reads after READONLY: it has the write.
      const onReplica = new Redis({ port: replica.port, ...cluster.admin, lazyConnect: true });
      await onReplica.connect();
      await onReplica.call('READONLY');
      expect(await onReplica.get(key)).toBe('1');
      onReplica.disconnect();
      // The replica of the written slot's primary frozen: not acknowledged.
      process.kill(replica.pid, 'SIGSTOP');
      const error = await acknowledged(() => client.set(key, '2')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotReplicatedError);
      process.kill(replica.pid, 'SIGCONT');
      await waitFor(
        async () =>
          acknowledged(() => client.set(key, '3')).then(
            () => true,
            () => false,
          ),
        {
          description: 'acknowledged after thaw',
        },
      );
      // The primary killed while the writes wait: the slot moves to its replica; refused as reconnected.
      const nodeConnection = (client as Cluster).nodes('master').find((n) => n.options.port === primaryPort)!;
      const promoted = acknowledged(async () => {
        await client.set(key, '4');
        const closed = new Promise((resolve) => nodeConnection.once('close', resolve));
        process.kill(cluster.nodes.find((n) => n.port === primaryPort)!.pid, 'SIGKILL');
        await closed;
      }).catch((e: unknown) => e);
      expect(await promoted).toBeInstanceOf(NotReplicatedError);
      // The promoted replica has no replica of its own (the old primary is dead, not its
      // replica): nothing could be promoted over it, so writes are acknowledged at once.
      await waitFor(
        () =>
          acknowledged(() => client.set(key, '5')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 15_000, description: 'acknowledged on the promoted replica' },
      );
      // The old primary rejoins as its replica; then it dies: the primary lists no replica
      // online (ROLE), but the Cluster still counts it as one — it could come back and win
      // an election while still syncing — so writes are refused until a replica has them.
      await cluster.restartNode(primaryPort);
      await waitFor(async () => (await connectedReplicaPorts(replica.port)).includes(primaryPort), {
        timeoutMs: 15_000,
        description: 'the old primary back as the replica of the promoted one',
      });
      process.kill(cluster.nodes.find((n) => n.port === primaryPort)!.pid, 'SIGKILL');
      await waitFor(async () => (await connectedReplicaPorts(replica.port)).length === 0, {
        description: 'the promoted primary to see its replica gone',
      });
      const unsafe = await acknowledged(() => client.set(key, '6')).catch((e: unknown) => e);
      expect(unsafe).toBeInstanceOf(NotReplicatedError);
    } finally {
      for (const n of cluster.nodes) if (n.child.exitCode === null && n.child.signalCode === null) process.kill(n.pid, 'SIGCONT');
      client.disconnect();
      await cluster.stop();
    }
  }, 60_000);
});

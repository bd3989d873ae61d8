import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './create-redis.js';

/** The writes were not copied to a replica in time: a failover now could lose them. */
export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError';
  constructor(
    readonly replicas: number,
    timeoutMs: number,
    readonly reconnected = false,
  ) {
    super(
      reconnected
        ? 'the connection was re-established while the writes were waiting for a replica: they may have been lost with the old primary'
        : `no replica acknowledged the writes within ${timeoutMs} ms (${replicas} connected)`,
    );
  }
}

/** Options for {@link replicaAcknowledgement}. */
export interface ReplicaAckOptions {
  /** How long `WAIT` may block. Default 500 ms (below the command timeout). */
  timeoutMs?: number;
  /** How long the primary's replica count is trusted before `ROLE` is asked again. Default 1 000 ms. */
  roleCacheMs?: number;
  /**
   * Wait for a replica even while the primary has none connected (and refuse when none
   * acknowledged in time). Default: true on a Sentinel client, false otherwise. Under
   * Sentinel "no replica connected" does not mean "nothing to promote": a replica that is
   * reconnecting, or still in its first full sync (a node brought back empty after a
   * failover), is not in `ROLE`'s list, yet Sentinel may promote it — and with it lose
   * every write it had not received. (A Cluster client ignores it and asks each primary
   * whether it has any replica at all, see {@link replicaAcknowledgement}.)
   */
  requireReplica?: boolean;
}

/** Runs `writes` on the connection, then resolves with their result once a replica holds them. */
export type ReplicaAcknowledgement = <T>(writes: () => Promise<T>) => Promise<T>;

/**
 * Make "Redis took it" mean "a replica has it too", for writes that must survive a
 * Sentinel failover. Replication is asynchronous: a primary that dies right after
 * acknowledging a write may take it along, and the promoted replica never had it. The
 * returned function runs `writes` (commands on `client`), then `WAIT 1` on `client` —
 * which covers every write this connection sent before — and rejects with
 * {@link NotReplicatedError} when no replica acknowledged in time.
 *
 * `WAIT` and `ROLE` only speak for the connection they are answered on. A client that
 * re-sends unanswered commands after a reconnect (ioredis' default; not the `command` and
 * `producer` roles of `createRedis`) would send them to the promoted replica, where a
 * `WAIT` covers nothing and `ROLE` may find no replica, so both would "confirm" writes the
 * old primary took with it. So every close
 * of `client` between the start of `writes` and the answer counts: the writes are then
 * refused as not replicated (`reconnected`), and the caller does them again.
 *
 * A standalone primary with no replica connected has nothing a failover could lose the
 * write to, so then it resolves without waiting (`ROLE`, cached for `roleCacheMs`). A
 * Sentinel client always waits (`requireReplica`): Sentinel can promote a replica that was
 * not connected when the writes ran — one still in its first sync after a failover — so
 * writes are refused until a replica holds them (the chaos suite saw Sentinel promote
 * twice after one failover, the second time while the old primary, back empty, could still
 * be syncing). On a Cluster client it waits on every primary's connection (the writes
 * went to their slots' primaries over those connections), skips only a primary with no
 * replica at all in `CLUSTER NODES` (a replica still syncing can win an election too), and
 * refuses when the primaries changed while the writes ran.
 *
 * Storefront's outbox relay wraps each row's job writes in it before marking the row
 * published, so a job a failover lost is relayed again (test: redis-kit connections ›
 * replicaAcknowledgement).
 */
export const replicaAcknowledgement = (client: RedisClient, options: ReplicaAckOptions = {}): ReplicaAcknowledgement => {
  const timeoutMs = options.timeoutMs ?? 500;
  if (!client.isCluster) {
    const redis = client as Redis;
    const requireReplica = options.requireReplica ?? (redis.options.sentinels?.length ?? 0) > 0;
    const acker = connectionAcker(redis, { ...options, requireReplica });
    return async <T>(writes: () => Promise<T>): Promise<T> => {
      const since = acker.epoch();
      const result = await writes();
      await acker.confirm(since);
      return result;
    };
  }
  // On a Cluster the writes went to the primaries of their slots, each over the Cluster
  // client's own connection to that node: `WAIT` on every primary's connection covers them
  // (a primary the writes did not reach answers at once). A primary whose connection closed,
  // or a primary set that changed (a failover moved slots) while the writes ran, refuses.
  const cluster = client as Cluster;
  const ackers = new WeakMap<Redis, Acker>();
  const ackerOf = (node: Redis) => {
    let acker = ackers.get(node);
    if (!acker) {
      acker = connectionAcker(node, { ...options, requireReplica: false }, configuredClusterReplicas);
      ackers.set(node, acker);
    }
    return acker;
  };
  return async <T>(writes: () => Promise<T>): Promise<T> => {
    const before = new Map(cluster.nodes('master').map((node) => [node, ackerOf(node).epoch()] as const));
    const result = await writes();
    const after = cluster.nodes('master');
    // Connected during the writes (the first use): nothing before to compare with, so only later closes count.
    if (before.size > 0 && (after.length !== before.size || after.some((node) => !before.has(node)))) {
      throw new NotReplicatedError(0, timeoutMs, true);
    }
    await Promise.all(after.map((node) => ackerOf(node).confirm(before.get(node) ?? ackerOf(node).epoch())));
    return result;
  };
};

/** One connection's side of {@link replicaAcknowledgement}: its close count, and `WAIT 1` on it. */
interface Acker {
  epoch(): number;
  /** Resolves once a replica holds what the connection sent before; refuses if it closed since `since`. */
  confirm(since: number): Promise<void>;
}

/** The replicas a primary lists as connected and in sync (`ROLE`): a replica still in its first sync is not among them. */
const onlineReplicas = async (client: Redis): Promise<number> => {
  const role = (await client.call('ROLE')) as [string, number, unknown[]?];
  return role[0] === 'master' ? (role[2]?.length ?? 0) : 0;
};

/**
 * The replicas a Cluster primary has, whatever their link's state (`CLUSTER NODES`: nodes
 * flagged `slave` of this node's id). A Cluster replica that is reconnecting or still in
 * its first sync can win a failover election, so it counts: only a primary with no
 * replica at all has nothing a failover could lose a write to.
 */
const configuredClusterReplicas = async (client: Redis): Promise<number> => {
  const lines = String(await client.call('CLUSTER', 'NODES'))
    .split('\n')
    .map((line) => line.split(' '));
  const self = lines.find((fields) => fields[2]?.split(',').includes('myself'));
  if (!self?.[2]?.split(',').includes('master')) return 0;
  return lines.filter((fields) => fields[3] === self[0] && fields[2]?.split(',').includes('slave')).length;
};

const connectionAcker = (
  client: Redis,
  { timeoutMs = 500, roleCacheMs = 1_000, requireReplica = false }: ReplicaAckOptions,
  countReplicas: (client: Redis) => Promise<number> = onlineReplicas,
): Acker => {
  let known: { replicas: number; at: number } | undefined;
  // How many times the socket closed: an answer that arrives in a later epoch than its writes were sent in is not theirs.
  let epoch = 0;
  client.on('close', () => {
    epoch++;
    known = undefined;
  });
  const replicas = async (): Promise<number> => {
    if (known && Date.now() - known.at < roleCacheMs) return known.replicas;
    known = { replicas: await countReplicas(client), at: Date.now() };
    return known.replicas;
  };
  return {
    epoch: () => epoch,
    confirm: async (since) => {
      const connected = await replicas();
      if (epoch !== since) throw new NotReplicatedError(connected, timeoutMs, true);
      if (connected === 0 && !requireReplica) return;
      const acked = Number(await client.call('WAIT', '1', String(timeoutMs)));
      if (epoch !== since) throw new NotReplicatedError(connected, timeoutMs, true);
      if (acked < 1) {
        known = undefined; // ask again next time: the replica may have gone
        throw new NotReplicatedError(connected, timeoutMs);
      }
    },
  };
};

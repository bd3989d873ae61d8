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
 * `WAIT` and `ROLE` only speak for the connection they are answered on. When the socket
 * closes, ioredis sends the unanswered commands again on the next connection — to the
 * promoted replica, after a failover — where a `WAIT` covers nothing and `ROLE` may find
 * no replica, so both would "confirm" writes the old primary took with it. So every close
 * of `client` between the start of `writes` and the answer counts: the writes are then
 * refused as not replicated (`reconnected`), and the caller does them again.
 *
 * A primary with no replica connected has nothing a failover could lose the write to
 * (there is no one to promote), so then it resolves without waiting (`ROLE`, cached for
 * `roleCacheMs`). Not for Cluster clients (a `WAIT` goes to one node).
 *
 * Storefront's outbox relay wraps each row's job writes in it before marking the row
 * published, so a job a failover lost is relayed again (test: redis-kit connections ›
 * replicaAcknowledgement).
 */
export const replicaAcknowledgement = (
  client: RedisClient,
  { timeoutMs = 500, roleCacheMs = 1_000 }: ReplicaAckOptions = {},
): ReplicaAcknowledgement => {
  let known: { replicas: number; at: number } | undefined;
  // How many times the socket closed: an answer that arrives in a later epoch than its writes were sent in is not theirs.
  let epoch = 0;
  client.on('close', () => {
    epoch++;
    known = undefined;
  });
  const replicas = async (): Promise<number> => {
    if (known && Date.now() - known.at < roleCacheMs) return known.replicas;
    const role = (await client.call('ROLE')) as [string, number, unknown[]?];
    known = { replicas: role[0] === 'master' ? (role[2]?.length ?? 0) : 0, at: Date.now() };
    return known.replicas;
  };
  return async <T>(writes: () => Promise<T>): Promise<T> => {
    const since = epoch;
    const result = await writes();
    const connected = await replicas();
    if (epoch !== since) throw new NotReplicatedError(connected, timeoutMs, true);
    if (connected === 0) return result;
    const acked = Number(await client.call('WAIT', '1', String(timeoutMs)));
    if (epoch !== since) throw new NotReplicatedError(connected, timeoutMs, true);
    if (acked < 1) {
      known = undefined; // ask again next time: the replica may have gone
      throw new NotReplicatedError(connected, timeoutMs);
    }
    return result;
  };
};

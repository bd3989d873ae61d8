import type { RedisClient } from './create-redis.js';

/** The writes were not copied to a replica in time: a failover now could lose them. */
export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError';
  constructor(
    readonly replicas: number,
    timeoutMs: number,
  ) {
    super(`no replica acknowledged the writes within ${timeoutMs} ms (${replicas} connected)`);
  }
}

/** Options for {@link replicaAcknowledgement}. */
export interface ReplicaAckOptions {
  /** How long `WAIT` may block. Default 500 ms (below the command timeout). */
  timeoutMs?: number;
  /** How long the primary's replica count is trusted before `ROLE` is asked again. Default 1 000 ms. */
  roleCacheMs?: number;
}

/**
 * Make "Redis took it" mean "a replica has it too", for writes that must survive a
 * Sentinel failover. Replication is asynchronous: a primary that dies right after
 * acknowledging a write may take it along, and the promoted replica never had it. The
 * returned function runs `WAIT 1` on `client` — which covers every write this connection
 * sent before — and rejects with {@link NotReplicatedError} when no replica acknowledged
 * in time. A primary with no replica connected has nothing a failover could lose the
 * write to (there is no one to promote), so then it resolves at once (`ROLE`, cached for
 * `roleCacheMs`). Not for Cluster clients (a `WAIT` goes to one node).
 *
 * Storefront's outbox relay calls it before marking a row published, so a job a failover
 * lost is relayed again (test: redis-kit connections › "waits for a replica…").
 */
export const replicaAcknowledgement = (client: RedisClient, { timeoutMs = 500, roleCacheMs = 1_000 }: ReplicaAckOptions = {}) => {
  let known: { replicas: number; at: number } | undefined;
  const replicas = async (): Promise<number> => {
    if (known && Date.now() - known.at < roleCacheMs) return known.replicas;
    const role = (await client.call('ROLE')) as [string, number, unknown[]?];
    known = { replicas: role[0] === 'master' ? (role[2]?.length ?? 0) : 0, at: Date.now() };
    return known.replicas;
  };
  return async (): Promise<void> => {
    const connected = await replicas();
    if (connected === 0) return;
    const acked = Number(await client.call('WAIT', '1', String(timeoutMs)));
    if (acked < 1) {
      known = undefined; // ask again next time: the replica may have gone
      throw new NotReplicatedError(connected, timeoutMs);
    }
  };
};

import type { Cluster } from 'ioredis';
import type { RedisClient } from './create-redis.js';

/** One shard of a Redis Cluster: a primary, the slot ranges it serves, its replicas. */
export interface ClusterShard {
  /** `host:port` of the primary. */
  primary: string;
  /** Slot ranges `[first, last]` it serves. */
  slots: [number, number][];
  /** `host:port` of each replica. */
  replicas: string[];
  /** The cluster flags the primary as failed (its replica has not taken over yet). */
  failed: boolean;
}

const address = (field: string) => field.split('@')[0] ?? field;

/** `CLUSTER NODES` text → shards (one per primary), primaries in slot order. */
export const parseClusterShards = (text: string): ClusterShard[] => {
  const lines = text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => line.trim().split(' '));
  const shards = new Map<string, ClusterShard>();
  for (const [id = '', addr = '', flags = '', , , , , , ...slots] of lines) {
    if (!flags.split(',').includes('master')) continue;
    shards.set(id, {
      primary: address(addr),
      slots: slots
        .filter((f) => !f.startsWith('['))
        .map((f) => {
          const [a, b] = f.split('-').map(Number) as [number, number | undefined];
          return [a, b ?? a];
        }),
      replicas: [],
      failed: flags.split(',').includes('fail'),
    });
  }
  for (const [, addr = '', flags = '', primaryId = '-'] of lines) {
    if (flags.split(',').includes('slave') && !flags.split(',').includes('fail'))
      shards.get(primaryId)?.replicas.push(address(addr));
  }
  return [...shards.values()].filter((s) => s.slots.length > 0).sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
};

/** The shards of the Cluster `client` talks to, or undefined for a standalone/Sentinel client. */
export const clusterShards = async (client: RedisClient): Promise<ClusterShard[] | undefined> => {
  if (!client.isCluster) return undefined;
  return parseClusterShards(String(await (client as Cluster).call('CLUSTER', 'NODES')));
};

/** The shard serving `slot`. */
export const shardForSlot = (shards: readonly ClusterShard[], slot: number): ClusterShard | undefined =>
  shards.find((s) => s.slots.some(([a, b]) => slot >= a && slot <= b));

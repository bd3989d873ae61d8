// pnpm redis:migrate-queues: move BullMQ jobs from the old shared `{bull}` prefix to the
// per-queue prefixes (`bull:{queue:<queue>}`), once, while no service runs.
// docs/operations.md ("Moving queues from the `{bull}` prefix") explains when and why.
//
// Env: REDIS_URL with the break-glass `ops` user (redis://ops:<password>@host:port), plus
// REDIS_SENTINELS or REDIS_CLUSTER_NODES as the services take them. Flags: --dry-run.
import { LEGACY_BULLMQ_PREFIX, queuePrefix, queues } from '@storefront/contracts';
import { createRedis, type RedisClient, toRedisConfig } from '@storefront/redis-kit';
import type { Cluster, Redis } from 'ioredis';

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The data nodes to scan: every primary on a Cluster, else the one client. */
const primaries = (client: RedisClient): Redis[] => (client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]);

/**
 * Move every key of `queue` under the legacy prefix to its new name, keeping its value and
 * TTL (`DUMP` + `RESTORE`, which works across Cluster slots where `RENAME` does not). A key
 * already present under the new name is left alone and reported, never overwritten.
 */
const moveQueue = async (client: RedisClient, queue: string, dryRun: boolean) => {
  const from = `${LEGACY_BULLMQ_PREFIX}:${queue}:`;
  const to = `${queuePrefix(queue)}:${queue}:`;
  let moved = 0;
  const conflicts: string[] = [];
  for (const node of primaries(client)) {
    // In a MATCH glob `{` and `}` are literal; queue names hold no `*`, `?` or `[`.
    for await (const batch of node.scanStream({ match: `${from}*`, count: 500 })) {
      for (const key of batch as string[]) {
        const target = to + key.slice(from.length);
        if (dryRun) {
          moved++;
          continue;
        }
        const [dump, ttl] = await Promise.all([client.dumpBuffer(key), client.pttl(key)]);
        if (dump === null) continue; // gone meanwhile
        try {
          await client.restore(target, Math.max(ttl, 0), dump);
        } catch (error) {
          if (!/BUSYKEY/.test(String(error))) throw error;
          conflicts.push(target);
          continue;
        }
        await client.del(key);
        moved++;
      }
    }
  }
  return { moved, conflicts };
};

const main = async () => {
  const dryRun = process.argv.includes('--dry-run');
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is required (the ops user: redis://ops:<password>@host:port)');
  const client = createRedis(
    toRedisConfig({
      url,
      sentinels: list(process.env.REDIS_SENTINELS),
      sentinelName: process.env.REDIS_SENTINEL_NAME ?? 'storefront',
      clusterNodes: list(process.env.REDIS_CLUSTER_NODES),
    }),
    { connectionName: 'migrate-queues', commandTimeoutMs: 10_000 },
  );
  client.on('error', () => {});
  try {
    // Connected first: a Cluster client knows its primaries only once it has the slot map.
    await client.ping();
    let conflicts = 0;
    for (const queue of Object.values(queues)) {
      const result = await moveQueue(client, queue, dryRun);
      conflicts += result.conflicts.length;
      console.log(
        `${queue}: ${result.moved} key(s) ${dryRun ? 'to move' : 'moved'} from ${LEGACY_BULLMQ_PREFIX}:${queue}:* to ${queuePrefix(queue)}:${queue}:*` +
          (result.conflicts.length
            ? `; ${result.conflicts.length} already existed and were left: ${result.conflicts.slice(0, 5).join(', ')}`
            : ''),
      );
    }
    if (conflicts > 0) process.exitCode = 1;
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
};

main().catch((error: Error) => {
  console.error(`migrate-queues: ${error.message}`);
  process.exitCode = 1;
});

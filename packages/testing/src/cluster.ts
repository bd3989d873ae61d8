import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { adminCommand } from './admin-client.js';
import { type RedisProcess, startRedisServer } from './redis-server.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** A Redis Cluster on loopback: N primaries, optionally replicas. */
export interface RedisCluster {
  readonly nodes: RedisProcess[];
  /** `[{ host, port }]` of every node, the seed list ioredis' Cluster takes. */
  readonly seeds: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Options for {@link startCluster}. */
export interface ClusterOptions {
  /** Default 3 (the minimum Redis accepts). */
  primaries?: number;
  /** Replicas per primary. Default 0. */
  replicasPerPrimary?: number;
  /** Extra config for every node. */
  config?: string[];
}

/** redis-cli next to redis-server (`REDIS_CLI_BIN`, else on PATH). */
const redisCliBin = () => process.env.REDIS_CLI_BIN ?? 'redis-cli';

/**
 * Start cluster-enabled nodes and join them with `redis-cli --cluster create`.
 * Resolves once every node reports `cluster_state:ok`.
 */
export const startCluster = async (options: ClusterOptions = {}): Promise<RedisCluster> => {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 0;
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      nodes.push(
        await startRedisServer({
          config: [
            'cluster-enabled yes',
            'cluster-config-file nodes.conf',
            'cluster-node-timeout 2000',
            ...(options.config ?? []),
          ],
        }),
      );
    }
    await run(
      redisCliBin(),
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await waitFor(
      async () => {
        for (const n of nodes) {
          const text = String(await adminCommand(n.port, 'CLUSTER', 'INFO'));
          if (!text.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, description: 'cluster_state:ok on every node' },
    );
    return {
      nodes,
      seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
      stop: async () => {
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    throw error;
  }
};

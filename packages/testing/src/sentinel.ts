import { adminCommand, infoFields } from './admin-client.js';
import { type RedisProcess, startRedisServer } from './redis-server.js';
import type { TestCertificates } from './tls.js';
import { waitFor } from './wait-for.js';

/** A primary, a replica and three Sentinels watching them, all on loopback. */
export interface SentinelTopology {
  readonly masterName: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: RedisProcess[];
  /** `[{ host, port }]` of the Sentinels, the shape ioredis takes. */
  readonly sentinelAddresses: { host: string; port: number }[];
  /** Ask a Sentinel which port it currently considers the primary. */
  currentPrimaryPort(): Promise<number>;
  /** The data nodes as they run now (after any {@link restartNode}). */
  dataNodes(): RedisProcess[];
  /**
   * Kill the data node on `port` (SIGKILL) and start it again there, with no data: a
   * replaced node. Like the deployment's entrypoint (infra/redis/entrypoint.sh), it asks
   * the Sentinels for the primary first and starts as its replica — started with its old
   * config instead, the original primary came back an empty _primary_ for 4 s and more
   * until Sentinel demoted it, a server a client that had just asked could write to and
   * lose everything with.
   */
  restartNode(port: number): Promise<RedisProcess>;
  /** Stop every process (Sentinels first, so none starts a failover during teardown). */
  stop(): Promise<void>;
}

/** Options for {@link startSentinelTopology}. */
export interface SentinelOptions {
  /** Default `storefront`. */
  masterName?: string;
  /** How long a primary may be silent before Sentinels call it down. Default 1000 ms. */
  downAfterMs?: number;
  /** Extra config for the data nodes (both primary and replica). */
  config?: string[];
  /** ACL users for the data nodes (a rendered users.acl); see `startRedisServer`. */
  acl?: string;
  /** Extra lines for each Sentinel after its `sentinel monitor` line (e.g. `sentinel auth-user …`). */
  sentinelConfig?: string[];
  /** Every node and Sentinel speaks TLS only, with these certificates; replication and Sentinel's links too. */
  tls?: TestCertificates;
}

/**
 * Start a Sentinel topology: one primary, one replica of it, and three Sentinels with
 * quorum 2. Resolves once the replica is in sync and every Sentinel sees the replica
 * and the other Sentinels, so a failover can actually happen.
 */
export const startSentinelTopology = async (options: SentinelOptions = {}): Promise<SentinelTopology> => {
  const masterName = options.masterName ?? 'storefront';
  const started: RedisProcess[] = [];
  try {
    const acl = {
      ...(options.acl === undefined ? {} : { acl: options.acl }),
      ...(options.tls ? { tls: options.tls } : {}),
    };
    const primary = await startRedisServer({ config: options.config, ...acl });
    started.push(primary);
    const replica = await startRedisServer({
      config: [...(options.config ?? []), `replicaof 127.0.0.1 ${primary.port}`],
      ...acl,
    });
    started.push(replica);
    await waitFor(async () => (await infoFields(replica.port, 'replication')).master_link_status === 'up', {
      description: 'replica in sync',
    });
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedisServer({
        sentinel: true,
        ...(options.tls ? { tls: options.tls } : {}),
        config: [
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(options.sentinelConfig ?? []),
        ],
      });
      sentinels.push(sentinel);
      started.push(sentinel);
    }
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const master = (await infoFields(s.port, 'sentinel')).master0 ?? '';
          if (!/slaves=[1-9]/.test(master) || !/sentinels=3/.test(master)) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, description: 'sentinels to discover the replica and each other' },
    );
    const nodes = [primary, replica];
    const currentPrimaryPort = async () => {
      const addr = (await adminCommand(sentinels[0]?.port ?? 0, 'SENTINEL', 'get-master-addr-by-name', masterName)) as string[];
      return Number(addr[1]);
    };
    return {
      masterName,
      primary,
      replica,
      sentinels,
      sentinelAddresses: sentinels.map((s) => ({ host: s.host, port: s.port })),
      currentPrimaryPort,
      dataNodes: () => [...nodes],
      restartNode: async (port) => {
        const index = nodes.findIndex((n) => n.port === port);
        if (index < 0) throw new Error(`no data node on port ${port}`);
        const primaryPort = await currentPrimaryPort();
        const role = primaryPort === port ? [] : [`replicaof 127.0.0.1 ${primaryPort}`];
        nodes[index] = await nodes[index]!.restart({ empty: true, config: [...(options.config ?? []), ...role] });
        return nodes[index]!;
      },
      stop: async () => {
        await Promise.all(sentinels.map((s) => s.stop()));
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    throw error;
  }
};

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { adminCommand } from './admin-client.js';
import { HARNESS_USER, type RedisProcess, startRedisServer } from './redis-server.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'primary' | 'replica';
  /** Whether the cluster considers it failed (`fail` flag). */
  failed: boolean;
  /** For a replica: its primary's id. */
  primaryId?: string;
  /** Slot ranges `[first, last]` a primary serves. */
  slots: [number, number][];
}

/** A Redis Cluster on loopback: N primaries, optionally replicas. */
export interface RedisCluster {
  /** The nodes as they run now (after any {@link RedisCluster.restartNode}). */
  readonly nodes: RedisProcess[];
  /** `[{ host, port }]` of every node, the seed list ioredis' Cluster takes. */
  readonly seeds: { host: string; port: number }[];
  /** The harness's admin user, the same on every node (for a test's own Cluster client). */
  readonly admin: { username: string; password: string };
  /** The cluster's view of itself, asked of the first live node that answers. */
  topology(): Promise<ClusterNodeInfo[]>;
  /** The port of the primary serving `slot` now. */
  primaryForSlot(slot: number): Promise<number>;
  /** Ports of the primaries holding any key that matches `pattern` (`KEYS`, fine on private test nodes). */
  primariesHolding(pattern: string): Promise<number[]>;
  /**
   * Kill the node on `port` (SIGKILL unless `signal`) and start it again on the same port and
   * directory: it rejoins from its nodes.conf (a primary that was failed over comes back as a
   * replica of its successor). Resolves with the new process once the cluster is ok again.
   */
  restartNode(port: number, signal?: NodeJS.Signals): Promise<RedisProcess>;
  /**
   * Move `slot` to the primary on `toPort` with the steps `redis-cli --cluster reshard` takes:
   * `SETSLOT IMPORTING` on the target, `MIGRATING` on the source, `MIGRATE` the keys in
   * batches, then `SETSLOT NODE` on both and every other primary. While it runs, clients are
   * redirected with ASK for keys already moved (and for new keys, which the target creates).
   * `holdMs` keeps the slot half-moved at least that long, sweeping keys across in batches,
   * as a reshard of a large slot does. Returns the number of keys moved.
   */
  migrateSlot(slot: number, toPort: number, options?: { batch?: number; holdMs?: number }): Promise<number>;
  /** Resolves once every live node reports `cluster_state:ok` and agrees on one owner per slot. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options for {@link startCluster}. */
export interface ClusterOptions {
  /** Default 3 (the minimum Redis accepts). */
  primaries?: number;
  /** Replicas per primary. Default 0. */
  replicasPerPrimary?: number;
  /** Extra config for every node (e.g. `masteruser`/`masterauth` with an ACL). */
  config?: string[];
  /** ACL users for every node (a rendered users.acl); see `startRedisServer`. */
  acl?: string;
  /** `cluster-node-timeout`: how long a silent primary lasts before its replica takes over. Default 2 000 ms. */
  nodeTimeoutMs?: number;
}

/** redis-cli next to redis-server (`REDIS_CLI_BIN`, else on PATH). */
const redisCliBin = () => process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** Parse `CLUSTER NODES` (one line per node: id addr flags primary ping pong epoch link slots...). */
export const parseClusterNodes = (text: string): ClusterNodeInfo[] =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flags = '', primary = '-', , , , , ...slotFields] = line.trim().split(' ');
      const port = Number(addr.split('@')[0]?.split(':').pop());
      const flagList = flags.split(',');
      const slots = slotFields
        .filter((f) => !f.startsWith('['))
        .map((f) => {
          const [a, b] = f.split('-').map(Number) as [number, number | undefined];
          return [a, b ?? a] as [number, number];
        });
      return {
        id,
        port,
        role: flagList.includes('master') ? 'primary' : 'replica',
        failed: flagList.includes('fail'),
        ...(primary !== '-' ? { primaryId: primary } : {}),
        slots,
      };
    });

/**
 * Start cluster-enabled nodes and join them with `redis-cli --cluster create` (authenticated
 * as the harness's admin user through `REDISCLI_AUTH`, never on the command line). Resolves
 * once every node reports `cluster_state:ok`.
 */
export const startCluster = async (options: ClusterOptions = {}): Promise<RedisCluster> => {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 0;
  const adminPassword = randomBytes(12).toString('hex');
  const nodes: RedisProcess[] = [];
  const nodeConfig = [
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${options.nodeTimeoutMs ?? 2000}`,
    ...(options.config ?? []),
  ];
  const live = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const topology = async () => {
    let lastError: unknown;
    for (const n of live()) {
      try {
        return parseClusterNodes(String(await adminCommand(n.port, 'CLUSTER', 'NODES')));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError ?? new Error('no live cluster node');
  };
  const waitHealthy = async (timeoutMs = 30_000) => {
    await waitFor(
      async () => {
        const owners = new Set<string>();
        for (const n of live()) {
          const text = String(await adminCommand(n.port, 'CLUSTER', 'INFO'));
          if (!text.includes('cluster_state:ok')) return false;
          const view = parseClusterNodes(String(await adminCommand(n.port, 'CLUSTER', 'NODES')));
          if (view.some((v) => v.failed && v.role === 'primary' && v.slots.length > 0)) return false;
          owners.add(
            JSON.stringify(
              view
                .filter((v) => v.role === 'primary')
                .map((v) => [v.port, v.slots])
                .sort(),
            ),
          );
        }
        return owners.size === 1;
      },
      { timeoutMs, description: 'cluster_state:ok and one slot map on every node' },
    );
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      nodes.push(
        await startRedisServer({
          config: nodeConfig,
          adminPassword,
          ...(options.acl === undefined ? {} : { acl: options.acl }),
        }),
      );
    }
    await run(
      redisCliBin(),
      [
        '--user',
        HARNESS_USER,
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 30_000, env: { ...process.env, REDISCLI_AUTH: adminPassword } },
    );
    await waitHealthy(20_000);
    if (replicas > 0) {
      await waitFor(
        async () => {
          // Every replica a replica (not a node still waiting to be told so), its link up.
          let inSync = 0;
          for (const n of nodes) {
            const info = String(await adminCommand(n.port, 'INFO', 'replication'));
            if (info.includes('role:slave') && info.includes('master_link_status:up')) inSync++;
          }
          return inSync === primaries * replicas;
        },
        { timeoutMs: 20_000, description: 'every cluster replica in sync' },
      );
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    throw error;
  }

  const idOf = async (port: number) => String(await adminCommand(port, 'CLUSTER', 'MYID'));
  return {
    nodes,
    seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
    admin: { username: HARNESS_USER, password: adminPassword },
    topology,
    waitHealthy,
    async primaryForSlot(slot) {
      const owner = (await topology()).find(
        (n) => n.role === 'primary' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b),
      );
      if (!owner) throw new Error(`no primary serves slot ${slot}`);
      return owner.port;
    },
    async primariesHolding(pattern) {
      const ports: number[] = [];
      for (const node of (await topology()).filter((n) => n.role === 'primary' && !n.failed)) {
        if (((await adminCommand(node.port, 'KEYS', pattern)) as string[]).length > 0) ports.push(node.port);
      }
      return ports;
    },
    async restartNode(port, signal = 'SIGKILL') {
      const index = nodes.findIndex((n) => n.port === port);
      if (index < 0) throw new Error(`no cluster node on port ${port}`);
      const restarted = await nodes[index]!.restart({ signal });
      nodes[index] = restarted;
      await waitHealthy();
      return restarted;
    },
    async migrateSlot(slot, toPort, { batch = 100, holdMs = 0 } = {}) {
      const view = await topology();
      const source = view.find((n) => n.role === 'primary' && n.slots.some(([a, b]) => slot >= a && slot <= b));
      const target = view.find((n) => n.port === toPort);
      if (!source || !target || target.role !== 'primary') throw new Error(`cannot move slot ${slot} to ${toPort}`);
      if (source.port === toPort) return 0;
      await adminCommand(toPort, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', await idOf(source.port));
      await adminCommand(source.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', await idOf(toPort));
      let moved = 0;
      const until = Date.now() + holdMs;
      for (;;) {
        const keys = (await adminCommand(source.port, 'CLUSTER', 'GETKEYSINSLOT', slot, batch)) as string[];
        if (keys.length === 0 && Date.now() >= until) break;
        if (keys.length === 0) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        await adminCommand(
          source.port,
          'MIGRATE',
          '127.0.0.1',
          toPort,
          '',
          0,
          5000,
          'AUTH2',
          HARNESS_USER,
          adminPassword,
          'KEYS',
          ...keys,
        );
        moved += keys.length;
      }
      // The target first, so it owns the slot before the source stops redirecting with ASK.
      await adminCommand(toPort, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await adminCommand(source.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      for (const other of view.filter((n) => n.role === 'primary' && !n.failed && n.port !== toPort && n.port !== source.port)) {
        await adminCommand(other.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      }
      return moved;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
};

import type { Cluster } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { perRegistry } from '../metrics/per-registry.js';

/** One `ACL LOG` entry: Redis aggregates repeats of the same (user, reason, context, object) into `count`. */
export interface AclLogEntry {
  /** The server that refused (`host:port`), or `redis` on one server. */
  node: string;
  /** The ACL user the refused client was (or tried to authenticate as). */
  username: string;
  /** `auth` (a failed AUTH), `command`, `key` or `channel`. */
  reason: string;
  /** `toplevel`, `multi`, `lua` or `module`. */
  context: string;
  /** The refused command, key or channel (for `auth`: `AUTH`). */
  object: string;
  count: number;
  /** Seconds since the last occurrence. */
  ageSeconds: number;
  /** The client's address (from the entry's client-info). */
  clientAddress: string | null;
}

/** `ACL LOG` reply (an array of flat field/value arrays) → entries. */
export const parseAclLog = (reply: unknown, node: string): AclLogEntry[] =>
  (Array.isArray(reply) ? reply : []).map((raw) => {
    const fields = new Map<string, unknown>();
    const list = Array.isArray(raw) ? raw : [];
    for (let i = 0; i + 1 < list.length; i += 2) fields.set(String(list[i]), list[i + 1]);
    const clientInfo = String(fields.get('client-info') ?? '');
    return {
      node,
      username: String(fields.get('username') ?? ''),
      reason: String(fields.get('reason') ?? ''),
      context: String(fields.get('context') ?? ''),
      object: String(fields.get('object') ?? ''),
      count: Number(fields.get('count') ?? 0),
      ageSeconds: Number(fields.get('age-seconds') ?? 0),
      clientAddress: /(?:^| )addr=(\S+)/.exec(clientInfo)?.[1] ?? null,
    };
  });

const aclMetrics = perRegistry((registers) => ({
  denials: new Gauge({
    name: 'redis_acl_denials',
    help: 'Refusals in the Redis ACL LOG (failed AUTH, commands, keys, channels), by user and reason, as of the last read',
    labelNames: ['user', 'reason'] as const,
    registers,
  }),
}));

/** Options for {@link AclAudit}. */
export interface AclAuditOptions {
  /** Entries read per server (Redis keeps `acllog-max-len`, 128 by default). Default 128. */
  count?: number;
  /** Where `redis_acl_denials` goes. Default: none. */
  registry?: Registry;
}

/**
 * Reads who Redis refused, and why, from `ACL LOG` — on every primary of a Cluster, on the
 * one server otherwise — and exports the totals as `redis_acl_denials{user,reason}`. The
 * connection's user needs `+acl|log` (the dashboard's has it, nothing else of ACL).
 *
 * The log lives in each server's memory: a restart or a failover empties it (the new
 * primary has its own), and Redis keeps the newest `acllog-max-len` entries.
 */
export class AclAudit {
  #last: AclLogEntry[] = [];
  readonly #count: number;
  readonly #metrics: ReturnType<typeof aclMetrics>;

  constructor(
    private readonly redis: RedisClient,
    options: AclAuditOptions = {},
  ) {
    this.#count = options.count ?? 128;
    this.#metrics = aclMetrics(options.registry);
  }

  /** The entries of the last {@link read}. */
  get last(): readonly AclLogEntry[] {
    return this.#last;
  }

  /** Read every server's log now (newest first) and update the metric. */
  async read(): Promise<AclLogEntry[]> {
    const servers: { node: string; client: Pick<RedisClient, 'call'> }[] =
      'isCluster' in this.redis && this.redis.isCluster
        ? (this.redis as Cluster)
            .nodes('master')
            .map((node) => ({ node: `${node.options.host}:${node.options.port}`, client: node }))
        : [{ node: 'redis', client: this.redis }];
    const entries = (
      await Promise.all(
        servers.map(async ({ node, client }) => parseAclLog(await client.call('ACL', 'LOG', String(this.#count)), node)),
      )
    )
      .flat()
      .sort((a, b) => a.ageSeconds - b.ageSeconds);
    this.#last = entries;
    if (this.#metrics) {
      this.#metrics.denials.reset();
      for (const e of entries) this.#metrics.denials.inc({ user: e.username, reason: e.reason }, e.count);
    }
    return entries;
  }
}

import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type RedisConfig, redisMode, urlAuth } from './redis-config.js';
import { reportResubscribeErrors } from './resubscribe-errors.js';
import { reviveAfterEnd } from './revive-after-end.js';

/** A standalone/Sentinel client or a Cluster client; both speak the same commands. */
export type RedisClient = Redis | Cluster;

/**
 * What the connection is for. Each role gets the settings its users need:
 * - `command`: locks, registry, idempotency, cache reads/writes. Commands queue while
 *   reconnecting and fail after 3 retries or the command timeout, whichever comes first,
 *   so callers see an error rather than hanging. A command already sent when the
 *   connection closes is not sent again on the next one (`autoResendUnfulfilledCommands:
 *   false`): its caller gets the timeout, and a write it was told failed does not land
 *   later, on whatever server answers next (see {@link NO_RESEND}).
 * - `producer`: BullMQ `Queue`s. Fails fast when Redis is down (`enableOfflineQueue: false`);
 *   no re-send either.
 * - `worker`: BullMQ `Worker`s and blocking reads. `maxRetriesPerRequest: null`, as BullMQ requires.
 * - `subscriber`: pub/sub. Its own connection, since a subscribed connection can run nothing else.
 */
export type ConnectionRole = 'command' | 'producer' | 'worker' | 'subscriber';

/**
 * ioredis keeps a command whose reply timed out in its queue, and when the socket closes it
 * sends every unanswered command again on the next connection — after the caller was told
 * it failed, and after a failover or a restart to a different server. So a `SET NX` of the
 * data-loss marker that timed out on a frozen Redis was written into the empty server that
 * replaced it, hiding the loss; a lock or idempotency claim the caller gave up on was taken
 * for nobody. The roles with a command timeout turn it off: a command in flight when the
 * connection drops fails with that timeout (at most `commandTimeoutMs` later), at most once.
 */
const NO_RESEND = { autoResendUnfulfilledCommands: false } as const;

const ROLE_OPTIONS: Record<ConnectionRole, RedisOptions> = {
  command: { maxRetriesPerRequest: 3, ...NO_RESEND },
  producer: { maxRetriesPerRequest: 3, enableOfflineQueue: false, ...NO_RESEND },
  worker: { maxRetriesPerRequest: null },
  subscriber: { maxRetriesPerRequest: null },
};

/**
 * How long a `command` or `producer` connection waits for a reply (ioredis `commandTimeout`;
 * it also bounds a command queued while reconnecting). Without it a frozen server hangs
 * every caller. Default 1 000 ms.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/** Options for {@link createRedis}. */
export interface CreateRedisOptions {
  /** Default `command`. */
  role?: ConnectionRole;
  /** Reply deadline for `command` and `producer` connections (blocking roles have none). Default {@link DEFAULT_COMMAND_TIMEOUT_MS}. */
  commandTimeoutMs?: number;
  /** Shown in `CLIENT LIST` (`CLIENT SETNAME`), e.g. `catalog-1a2b:cache`. */
  connectionName?: string;
  /** Passed through to ioredis last, for anything not covered here. */
  overrides?: RedisOptions;
  /** Called when the client (or a `duplicate()` of it, as BullMQ makes) is brought back from `end` (see {@link reviveAfterEnd}). */
  onRevive?: () => void;
  /**
   * `replica`: a read-only connection to a replica — Sentinel `role: 'slave'` (ioredis picks
   * one the Sentinels list, and the primary when none is left), Cluster `scaleReads: 'slave'`.
   * Only for reads that may lag the primary (docs/patterns/cache.md, replica reads). Standalone
   * has no replicas: refused. Default `primary`.
   */
  readFrom?: 'primary' | 'replica';
}

/** Reconnect backoff: 50 ms doubling to 2 s, forever (ioredis' default grows without a cap). */
const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * Create an ioredis client for `config` in the role's shape. ioredis does the real
 * work: reconnects, Sentinel discovery and failover, Cluster redirects. On Sentinel,
 * `failoverDetector` makes it move to a new primary as soon as Sentinel announces one.
 * A client that ends without being closed is revived ({@link reviveAfterEnd}), and so are
 * its duplicates: BullMQ duplicates a worker's connection for its blocking reads.
 */
export const createRedis = (config: RedisConfig, options: CreateRedisOptions = {}): RedisClient => {
  const client = openClient(config, options);
  const revive = (c: RedisClient) => {
    reviveAfterEnd(c, { onRevive: options.onRevive });
    reportResubscribeErrors(c);
    const duplicate = c.duplicate.bind(c) as (...args: unknown[]) => RedisClient;
    (c as { duplicate: (...args: unknown[]) => RedisClient }).duplicate = (...args) => revive(duplicate(...args));
    return c;
  };
  return revive(client);
};

const openClient = (
  config: RedisConfig,
  {
    role = 'command',
    connectionName,
    commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    overrides,
    readFrom = 'primary',
  }: CreateRedisOptions,
): RedisClient => {
  const auth = urlAuth(config.url);
  const mode = redisMode(config);
  if (readFrom === 'replica' && mode === 'standalone') {
    throw new Error('replica reads need Sentinel or Cluster: a standalone server has no replicas to read from');
  }
  const replica = readFrom === 'replica';
  if (!auth.tls && (config.tls?.ca || config.tls?.cert || config.tls?.key)) {
    throw new Error('TLS certificates were given for a redis:// URL: use rediss:// to connect with TLS');
  }
  // Node verifies the server's certificate (chain and host name or IP) against `ca`, else the system store.
  const tls = auth.tls ? { ca: config.tls?.ca, cert: config.tls?.cert, key: config.tls?.key } : undefined;
  const common: RedisOptions = {
    ...ROLE_OPTIONS[role],
    ...(role === 'command' || role === 'producer' ? { commandTimeout: commandTimeoutMs } : {}),
    username: auth.username,
    password: auth.password,
    db: auth.db,
    connectionName,
    retryStrategy,
    ...(tls ? { tls } : {}),
    ...overrides,
  };
  switch (mode) {
    case 'cluster': {
      const { db: _db, ...redisOptions } = common;
      const clusterOptions: ClusterOptions = {
        redisOptions,
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: common.enableOfflineQueue ?? true,
        maxRedirections: 16,
        ...(replica ? { scaleReads: 'slave' as const } : {}),
      };
      return new Cluster(config.clusterNodes ?? [], clusterOptions);
    }
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: config.sentinels,
        name: config.sentinelName ?? 'storefront',
        // Sentinels are asked where the primary is without credentials (keep them on a
        // private network); the ACL user from the URL authenticates to the data nodes.
        failoverDetector: true,
        ...(replica ? { role: 'slave' as const } : {}),
        // With rediss:// the Sentinels are reached over TLS too, with the same certificates.
        ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      });
    default:
      return new Redis({ ...common, host: auth.host, port: auth.port });
  }
};

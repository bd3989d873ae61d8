/**
 * Prefix of the service registry's keys and channel (redis-kit's `registryKeys`):
 * `registry:{<service>}:instances`, `registry:{<service>}:instance:<id>`, `registry:changes`.
 */
export const REGISTRY_PREFIX = 'registry';

/**
 * The application's Redis keys are built here, so the namespace is documented in one
 * place and ACL key patterns (infra/redis/users.acl) can be derived from it. redis-kit's
 * patterns build their own keys from what the caller passes: under `REGISTRY_PREFIX`
 * (registry), `<lock key>:fence` (lock), `<cache key>:loading` (cache).
 *
 * Shape: `<owner>:<entity>:<id>`. Keys that a single command or script touches together
 * share a Cluster slot through a hash tag (`{...}`): Redis hashes only the part inside
 * the first braces, so `catalog:lock:{stock:A1}` and `catalog:lock:{stock:A1}:fence` live on
 * one node and one Lua script may use both.
 */
export const keys = {
  catalog: {
    /** L2 cache entry for a product (catalog's alone). */
    productCache: (productId: string) => `catalog:product:${productId}`,
    /**
     * Lock guarding one product's stock. redis-kit's lock keeps its fencing counter at
     * `<key>:fence`, which the hash tag puts on the same Cluster slot.
     */
    stockLock: (productId: string) => `catalog:lock:{stock:${productId}}`,
  },
  order: {
    /** Idempotency record for `POST /orders` (scoped per customer so keys cannot collide across customers). */
    idempotency: (customerId: string, key: string) => `order:idempotency:${customerId}:${key}`,
    /** Order's data-loss marker (redis-kit's `DataLossMarker`): gone means Redis lost what order wrote. */
    redisMarker: 'order:redis-marker',
    /**
     * Sliding rankings (redis-kit's `SlidingRanking`: `<key>:<minute>` sorted sets and
     * `<key>:seen:<event id>` markers, one slot per ranking by its hash tag). Order writes them
     * from its outbox; catalog reads them (`GET /rankings`).
     */
    rankings: {
      /** Units ordered per product. */
      bestSelling: 'order:rank:{best-selling}',
      /** Orders per minute by what happened: placed, paid, cancelled, expired. */
      orders: 'order:rank:{orders}',
    },
  },
  notifier: {
    /** New watchers per product (a customer counts once per product); catalog reads it. */
    mostWatchedRanking: 'notifier:rank:{most-watched}',
  },
} as const;

/**
 * BullMQ key prefix of one queue: its keys are `bull:{queue:<queue>}:<queue>:<suffix>`. The
 * hash tag keeps each queue's keys on one Cluster slot, which BullMQ's Lua scripts require,
 * and gives every queue its own slot, so queues spread over a Cluster's shards instead of
 * all sitting on one primary. Which shard a slot lands on is the Cluster's allocation; the
 * tag's `queue:` is there because with it the shop's two queues hash into different thirds
 * of the slot space (slots 7711 and 3331), so a fresh 3-primary Cluster puts them on
 * different primaries (contracts.test.ts pins it). `{@link LEGACY_BULLMQ_PREFIX}` was the
 * earlier layout; docs/operations.md has the migration.
 */
export const queuePrefix = (queue: string) => `bull:{queue:${queue}}`;

/** A BullMQ key of `queue` (e.g. `queueKey('order-expiry', 'meta')`), for tests and operators. */
export const queueKey = (queue: string, suffix: string) => `${queuePrefix(queue)}:${queue}:${suffix}`;

/**
 * The prefix every queue shared before per-queue hash tags: one `{bull}` tag, so every queue
 * on one slot. Only the migration (`pnpm redis:migrate-queues`) reads it.
 */
export const LEGACY_BULLMQ_PREFIX = '{bull}';

/** BullMQ queue names. */
export const queues = {
  /** Notifications to deliver (order → notifier, product watchers → notifier). */
  notifications: 'notifications',
  /** Delayed jobs that expire unpaid orders and release their stock. */
  orderExpiry: 'order-expiry',
} as const;
export type QueueName = (typeof queues)[keyof typeof queues];

/** Pub/sub channels: ephemeral signals only. Anything that must not be lost goes through BullMQ or a stream. */
export const channels = {
  /**
   * Prefix of catalog's stock-lock hand-off channels (redis-kit's `RedisLock` option
   * `handOffChannel`): each lock instance listens on `<prefix><its id>` for the locks its
   * waiters are handed. Under `catalog:lock:` so catalog's ACL user may use it.
   */
  stockLockHandOff: 'catalog:lock:handoff:',
  /** "drop your L1 copy of these keys" (cache invalidation). */
  cacheInvalidation: (namespace: string) => `cache:invalidate:${namespace}`,
  /** Live events by type, for watchers and the dashboard. */
  event: (type: string) => `events:${type}`,
} as const;

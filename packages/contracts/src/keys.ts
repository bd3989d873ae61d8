import type { ServiceName } from './service-names.js';

/**
 * Every Redis key Storefront writes is built here, so the namespace is documented in
 * one place and ACL key patterns (infra/redis/users.acl) can be derived from it.
 *
 * Shape: `<owner>:<entity>:<id>`. Keys that a single command or script touches together
 * share a Cluster slot through a hash tag (`{...}`): Redis hashes only the part inside
 * the first braces, so `catalog:lock:{stock:A1}` and `catalog:lock:{stock:A1}:fence` live on
 * one node and one Lua script may use both.
 */
export const keys = {
  registry: {
    /** Sorted set of instance ids of one service, scored by heartbeat expiry (ms epoch). */
    index: (service: ServiceName | string) => `registry:{${service}}:instances`,
    /** One instance's record (JSON, PX TTL renewed by heartbeat); same slot as its index. */
    instance: (service: ServiceName | string, instanceId: string) => `registry:{${service}}:instance:${instanceId}`,
  },
  catalog: {
    /** L2 cache entry for a product (owned by catalog, read by order as a price fallback). */
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
    /** rate-limiter-flexible key prefix for the per-customer order limit. */
    rateLimitPrefix: 'order:ratelimit',
  },
} as const;

/**
 * BullMQ key prefix. The hash tag keeps each queue's keys on one Cluster slot, which
 * BullMQ's Lua scripts require.
 */
export const BULLMQ_PREFIX = '{bull}';

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
  /** "drop your L1 copy of these keys" (cache invalidation). */
  cacheInvalidation: (namespace: string) => `cache:invalidate:${namespace}`,
  /** Instance joined / left, so discovery hears changes at once. */
  registryChanges: 'registry:changes',
  /** Live events by type, for watchers and the dashboard. */
  event: (type: string) => `events:${type}`,
} as const;

/**
 * Redis Streams for redis-kit's EventStream (durable log, consumer groups). Storefront's
 * services send order events through the outbox and BullMQ instead; these names are
 * the place to start if a consumer wants the log (docs/patterns/events.md).
 */
export const streams = {
  /** Order lifecycle events. */
  orderEvents: 'events:{orders}',
  /** Where messages go after too many failed deliveries; same slot as the stream. */
  orderEventsDead: 'events:{orders}:dead',
} as const;

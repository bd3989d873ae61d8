import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Every metric redis-kit records, created once per registry. Patterns take a
 * `registry` option; the same registry always yields the same metric objects, so
 * several caches or locks in one process add to one series per label set.
 */
export interface KitMetrics {
  cacheRequests: Counter<'namespace' | 'tier'>;
  cacheStampedesSuppressed: Counter<'namespace' | 'scope'>;
  cacheInvalidations: Counter<'namespace' | 'direction'>;
  cacheLoadDuration: Histogram<'namespace'>;
  lockWait: Histogram<'outcome'>;
  lockContention: Counter;
  lockLost: Counter;
  lockHeld: Histogram;
  registryInstances: Gauge<'service'>;
  registryHeartbeats: Counter<'outcome'>;
  eventsPublished: Counter<'type'>;
  eventsReceived: Counter<'type'>;
  eventsInvalid: Counter<'channel'>;
  eventsDeadLettered: Counter<'stream'>;
  idempotency: Counter<'outcome'>;
  rateLimited: Counter<'limiter' | 'backend'>;
}

const byRegistry = new WeakMap<Registry, KitMetrics>();

const create = (registry: Registry): KitMetrics => {
  const registers = [registry];
  return {
    cacheRequests: new Counter({
      name: 'cache_requests_total',
      help: 'Cache reads by the tier that answered: l1, l2, stale (served while revalidating), miss (origin load) or bypass (cache Redis unreachable)',
      labelNames: ['namespace', 'tier'] as const,
      registers,
    }),
    cacheStampedesSuppressed: new Counter({
      name: 'cache_stampedes_suppressed_total',
      help: 'Concurrent misses that waited for another load instead of loading (scope: process or cluster)',
      labelNames: ['namespace', 'scope'] as const,
      registers,
    }),
    cacheInvalidations: new Counter({
      name: 'cache_invalidations_total',
      help: 'Invalidation messages sent and received',
      labelNames: ['namespace', 'direction'] as const,
      registers,
    }),
    cacheLoadDuration: new Histogram({
      name: 'cache_origin_load_duration_seconds',
      help: 'Time spent in the origin loader on a miss',
      labelNames: ['namespace'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lockWait: new Histogram({
      name: 'lock_wait_seconds',
      help: 'Time from asking for a lock to getting it (or giving up)',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    lockContention: new Counter({
      name: 'lock_contention_total',
      help: 'Acquire attempts that found the lock held by someone else',
      registers,
    }),
    lockLost: new Counter({
      name: 'lock_lost_total',
      help: 'Leases lost before release (expired while held, or taken over): the fencing token is what keeps these safe',
      registers,
    }),
    lockHeld: new Histogram({
      name: 'lock_held_seconds',
      help: 'How long leases were held',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    }),
    registryInstances: new Gauge({
      name: 'registry_instances',
      help: 'Live instances per service as discovery last saw them',
      labelNames: ['service'] as const,
      registers,
    }),
    registryHeartbeats: new Counter({
      name: 'registry_heartbeats_total',
      help: 'Registry heartbeats by outcome: renewed, reregistered (key was gone), failed',
      labelNames: ['outcome'] as const,
      registers,
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Events published on the bus',
      labelNames: ['type'] as const,
      registers,
    }),
    eventsReceived: new Counter({
      name: 'events_received_total',
      help: 'Valid events received',
      labelNames: ['type'] as const,
      registers,
    }),
    eventsInvalid: new Counter({
      name: 'events_invalid_total',
      help: 'Messages dropped because they failed schema validation',
      labelNames: ['channel'] as const,
      registers,
    }),
    eventsDeadLettered: new Counter({
      name: 'events_dead_lettered_total',
      help: 'Stream messages moved to the dead-letter stream after too many deliveries',
      labelNames: ['stream'] as const,
      registers,
    }),
    idempotency: new Counter({
      name: 'idempotency_requests_total',
      help: 'Idempotent requests by outcome: executed, replayed, in_flight, mismatch',
      labelNames: ['outcome'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'rate_limit_rejections_total',
      help: 'Requests rejected by a rate limiter, by backend (redis, or memory while Redis is down)',
      labelNames: ['limiter', 'backend'] as const,
      registers,
    }),
  };
};

/** The kit's metrics on `registry` (created on first use), or `undefined` without one. */
export const kitMetrics = (registry: Registry | undefined): KitMetrics | undefined => {
  if (!registry) return undefined;
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = create(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
};

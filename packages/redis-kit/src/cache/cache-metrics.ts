import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the two-tier cache, created once per registry (see `perRegistry`). */
export const cacheMetrics = perRegistry((registers) => ({
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
  cacheValueBytes: new Counter({
    name: 'cache_value_bytes_total',
    help: 'Bytes of values large enough to compress: their JSON (form=raw) and what was stored in Redis (form=stored)',
    labelNames: ['namespace', 'form'] as const,
    registers,
  }),
  cacheReplicaReads: new Counter({
    name: 'cache_replica_reads_total',
    help: 'L2 reads sent to a replica, by outcome: served, behind (older than an invalidation heard: read again from the primary) or error (fell back to the primary)',
    labelNames: ['namespace', 'outcome'] as const,
    registers,
  }),
  cacheLoadDuration: new Histogram({
    name: 'cache_origin_load_duration_seconds',
    help: 'Time spent in the origin loader on a miss',
    labelNames: ['namespace'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  }),
}));

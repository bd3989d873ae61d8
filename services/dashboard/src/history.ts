import type { Sample } from './metrics-text.js';

/** The metric series the charts are drawn from (each instance's /metrics, every refresh). */
export const CHARTED = new Set([
  'http_request_duration_seconds_bucket',
  'cache_requests_total',
  'lock_wait_seconds_bucket',
  'lock_contention_total',
  'notification_job_duration_seconds_sum',
  'notification_job_duration_seconds_count',
]);

/** One point of the charts: what happened since the previous refresh. */
export interface HistoryPoint {
  /** Epoch ms. */
  at: number;
  ordersPerSec: number;
  /** POST /orders latency in this interval (null without orders). */
  orderP50Ms: number | null;
  orderP99Ms: number | null;
  /** Share of cache reads per tier in this interval (null without reads). */
  cacheShare: Record<'l1' | 'l2' | 'miss', number> | null;
  lockWaitP99Ms: number | null;
  lockContentionPerSec: number;
  /** Jobs waiting, delayed or active. */
  queueDepth: Record<string, number>;
  /** Mean notification job time in this interval. */
  jobMs: number | null;
  registrySize: number;
}

type Scrape = { instanceId: string; samples: Sample[] };

const seriesKey = (instanceId: string, s: Sample) =>
  `${instanceId}|${s.name}|${Object.entries(s.labels)
    .filter(([k]) => k !== 'service' && k !== 'instance_id')
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;

/** Quantile `q` of a histogram's bucket increments (`le` → cumulative count), interpolated inside the bucket. */
const quantile = (buckets: Map<number, number>, q: number): number | null => {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound)!;
    if (count >= rank) {
      if (!Number.isFinite(bound)) return previousBound;
      const inBucket = count - previousCount;
      return inBucket > 0 ? previousBound + ((bound - previousBound) * (rank - previousCount)) / inBucket : bound;
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
};

/**
 * The dashboard's charts' memory: each refresh turns the counters every instance exports
 * into rates and interval quantiles (a counter that went down is a restarted instance: its
 * new value is the increment), and keeps the last `size` points.
 */
export class MetricsHistory {
  readonly #points: HistoryPoint[] = [];
  #previous = new Map<string, number>();
  #previousAt: number | undefined;

  constructor(
    private readonly size = 180,
    private readonly minIntervalMs = 500,
  ) {}

  get points(): readonly HistoryPoint[] {
    return this.#points;
  }

  record(
    at: number,
    scraped: readonly Scrape[],
    queueDepth: Record<string, number>,
    registrySize: number,
  ): HistoryPoint | undefined {
    // Extra refreshes (a readiness probe, a first page load) between the regular ones add no point.
    if (this.#previousAt !== undefined && at - this.#previousAt < this.minIntervalMs) return undefined;
    const current = new Map<string, number>();
    const increments: { sample: Sample; increment: number }[] = [];
    for (const { instanceId, samples } of scraped) {
      for (const sample of samples) {
        const key = seriesKey(instanceId, sample);
        current.set(key, sample.value);
        const before = this.#previous.get(key);
        const increment = before === undefined ? (this.#previousAt === undefined ? 0 : sample.value) : sample.value - before;
        increments.push({ sample, increment: increment < 0 ? sample.value : increment });
      }
    }
    const seconds = this.#previousAt === undefined ? 0 : (at - this.#previousAt) / 1000;
    this.#previous = current;
    this.#previousAt = at;
    if (seconds <= 0) return undefined;

    const orderBuckets = new Map<number, number>();
    const lockBuckets = new Map<number, number>();
    const tiers: Record<string, number> = {};
    let contention = 0;
    let jobSum = 0;
    let jobCount = 0;
    for (const { sample, increment } of increments) {
      const le = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
      switch (sample.name) {
        case 'http_request_duration_seconds_bucket':
          if (sample.labels.route === '/orders' && sample.labels.method === 'POST')
            orderBuckets.set(le, (orderBuckets.get(le) ?? 0) + increment);
          break;
        case 'lock_wait_seconds_bucket':
          lockBuckets.set(le, (lockBuckets.get(le) ?? 0) + increment);
          break;
        case 'cache_requests_total':
          if (sample.labels.tier) tiers[sample.labels.tier] = (tiers[sample.labels.tier] ?? 0) + increment;
          break;
        case 'lock_contention_total':
          contention += increment;
          break;
        case 'notification_job_duration_seconds_sum':
          jobSum += increment;
          break;
        case 'notification_job_duration_seconds_count':
          jobCount += increment;
          break;
      }
    }
    const reads = Object.values(tiers).reduce((a, b) => a + b, 0);
    const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 10_000) / 10);
    const point: HistoryPoint = {
      at,
      ordersPerSec: Math.round(((orderBuckets.get(Number.POSITIVE_INFINITY) ?? 0) / seconds) * 10) / 10,
      orderP50Ms: ms(quantile(orderBuckets, 0.5)),
      orderP99Ms: ms(quantile(orderBuckets, 0.99)),
      cacheShare: reads
        ? {
            l1: (tiers.l1 ?? 0) / reads,
            l2: ((tiers.l2 ?? 0) + (tiers.stale ?? 0)) / reads,
            miss: ((tiers.miss ?? 0) + (tiers.bypass ?? 0)) / reads,
          }
        : null,
      lockWaitP99Ms: ms(quantile(lockBuckets, 0.99)),
      lockContentionPerSec: Math.round((contention / seconds) * 10) / 10,
      queueDepth,
      jobMs: jobCount ? ms(jobSum / jobCount) : null,
      registrySize,
    };
    this.#points.push(point);
    if (this.#points.length > this.size) this.#points.shift();
    return point;
  }
}

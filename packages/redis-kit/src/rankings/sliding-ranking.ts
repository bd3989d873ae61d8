import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { rankingMetrics } from './ranking-metrics.js';
import { recordScript } from './ranking-scripts.js';

/** Options for {@link SlidingRanking}. */
export interface SlidingRankingOptions {
  /** Names the metric label. */
  name: string;
  /**
   * Key prefix holding a hash tag, e.g. `order:rank:{best-selling}`: buckets are
   * `<key>:<bucket start ms>`, "seen" markers `<key>:seen:<event id>`. The tag puts them all on
   * one Cluster slot, which the record script and the window's `ZUNION` need.
   */
  key: string;
  /** Bucket length. Default one minute. */
  bucketMs?: number;
  /** Buckets kept (the longest window that can be asked for). Default 60: an hour of minutes. */
  buckets?: number;
  /** Where metrics go. Default: none. */
  registry?: Registry;
  /** The clock (tests). Default `Date.now`. */
  now?: () => number;
}

/** A member and its score over a window. */
export interface RankedMember {
  member: string;
  score: number;
}

/** What {@link SlidingRanking.record} did with an event. */
export type RecordOutcome = 'counted' | 'duplicate' | 'expired';

const HASH_TAG = /\{[^}]+\}/;

/**
 * A ranking over a sliding window made of per-bucket sorted sets: an event adds to its
 * bucket's scores with `ZINCRBY`, a window is the `ZUNION` of its buckets (scores summed),
 * and a bucket expires by itself once it falls out of the longest window.
 *
 * Events arrive at least once (an outbox re-drives, a job retries), so each is counted once:
 * the record script sets a marker per event id and adds only if the marker was new. The
 * marker lives as long as the event's bucket; an event replayed after that is older than
 * every window and is not counted either (`expired`). An event lands in the bucket of the
 * time it happened, not of the time it was recorded, so a late delivery does not skew the
 * current minute.
 */
export class SlidingRanking {
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #name: string;
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #now: () => number;
  readonly #metrics: ReturnType<typeof rankingMetrics>;

  constructor(redis: RedisClient, options: SlidingRankingOptions) {
    if (!HASH_TAG.test(options.key)) {
      throw new Error(`ranking key ${options.key} needs a hash tag ({...}) so its buckets share a Cluster slot`);
    }
    this.#redis = redis;
    this.#key = options.key;
    this.#name = options.name;
    this.#bucketMs = options.bucketMs ?? 60_000;
    this.#buckets = options.buckets ?? 60;
    if (!(this.#bucketMs >= 1) || !Number.isInteger(this.#buckets) || this.#buckets < 1) {
      throw new Error('bucketMs must be at least 1 and buckets a positive integer');
    }
    this.#now = options.now ?? Date.now;
    this.#metrics = rankingMetrics(options.registry);
  }

  /** The longest window, in buckets. */
  get buckets(): number {
    return this.#buckets;
  }

  /**
   * Add `increments` (member → amount) for the event `eventId` that happened `at`, once:
   * the same id again is `duplicate`; an event older than the longest window is `expired`.
   */
  async record(eventId: string, at: Date | number, increments: Readonly<Record<string, number>>): Promise<RecordOutcome> {
    const pairs = Object.entries(increments).filter(([, by]) => by !== 0);
    for (const [member, by] of pairs) {
      if (!member || !Number.isFinite(by)) throw new Error(`ranking ${this.#name}: bad increment ${member}=${by}`);
    }
    const now = this.#now();
    // A clock ahead of ours counts now, not in a bucket nobody reads yet.
    const time = Math.min(typeof at === 'number' ? at : at.getTime(), now);
    const bucket = this.#bucketStart(time);
    const expiresAt = bucket + (this.#buckets + 1) * this.#bucketMs;
    let outcome: RecordOutcome;
    if (bucket <= this.#bucketStart(now) - this.#buckets * this.#bucketMs || !pairs.length) {
      outcome = 'expired';
    } else {
      let counted: number;
      try {
        counted = await recordScript(this.#redis)(
          `${this.#key}:seen:${eventId}`,
          this.#bucketKey(bucket),
          expiresAt,
          ...pairs.flat(),
        );
      } catch (error) {
        // Unknown outcome (it may have landed): offering the event again counts it at most once.
        this.#metrics?.records.inc({ ranking: this.#name, outcome: 'failed' });
        throw error;
      }
      outcome = counted === 1 ? 'counted' : 'duplicate';
    }
    this.#metrics?.records.inc({ ranking: this.#name, outcome });
    return outcome;
  }

  /** The `limit` highest scores over the last `windowBuckets` buckets (the current one included), highest first. */
  async top(limit: number, windowBuckets = this.#buckets): Promise<RankedMember[]> {
    const keys = this.#windowKeys(windowBuckets).map(({ key }) => key);
    const flat = (await this.#redis.zunion(keys.length, ...keys, 'AGGREGATE', 'SUM', 'WITHSCORES')) as string[];
    const ranked: RankedMember[] = [];
    for (let i = 0; i < flat.length; i += 2) ranked.push({ member: flat[i]!, score: Number(flat[i + 1]) });
    ranked.sort((a, b) => b.score - a.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    return ranked.slice(0, Math.max(0, limit));
  }

  /** Each of the last `windowBuckets` buckets, oldest first: its start and its scores (empty when nothing happened). */
  async series(windowBuckets = this.#buckets): Promise<{ at: number; scores: Record<string, number> }[]> {
    const window = this.#windowKeys(windowBuckets);
    const pipeline = this.#redis.pipeline();
    for (const { key } of window) pipeline.zrange(key, '0', '-1', 'WITHSCORES');
    const results = (await pipeline.exec()) ?? [];
    return window.map(({ at }, i) => {
      const [error, flat] = results[i] ?? [new Error('no reply')];
      if (error) throw error;
      const scores: Record<string, number> = {};
      const list = flat as string[];
      for (let j = 0; j < list.length; j += 2) scores[list[j]!] = Number(list[j + 1]);
      return { at, scores };
    });
  }

  #bucketStart(time: number): number {
    return Math.floor(time / this.#bucketMs) * this.#bucketMs;
  }

  #bucketKey(start: number): string {
    return `${this.#key}:${start}`;
  }

  #windowKeys(windowBuckets: number): { at: number; key: string }[] {
    if (!Number.isInteger(windowBuckets) || windowBuckets < 1 || windowBuckets > this.#buckets) {
      throw new RangeError(`ranking ${this.#name}: the window must be 1 to ${this.#buckets} buckets`);
    }
    const current = this.#bucketStart(this.#now());
    return Array.from({ length: windowBuckets }, (_, i) => {
      const at = current - (windowBuckets - 1 - i) * this.#bucketMs;
      return { at, key: this.#bucketKey(at) };
    });
  }
}

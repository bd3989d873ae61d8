import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { dataLossMetrics } from './data-loss-metrics.js';

/** Options for {@link DataLossMarker}. */
export interface DataLossMarkerOptions {
  /** Names the marker in the `marker` metric label. */
  name: string;
  /** The marker's key: one the client may write, never given a TTL, never written by anything else. */
  key: string;
  /** Who is checking (e.g. the instance id): written into the marker, for an operator reading it. */
  owner: string;
  registry?: Registry;
}

/** What a check found: the marker still there, or gone (and set again by this caller). */
export type MarkerCheck = 'present' | 'missing';

/**
 * Tells a service that its Redis lost its data: a server replaced by an empty one, a restart
 * without persistence, a `FLUSHALL`. Redis itself cannot say so — an empty server answers
 * like any other — so the service keeps a marker key there (no TTL; the shop runs
 * `noeviction`) and checks it now and then with `SET key … NX`:
 *
 * - the key is there: `present`, nothing was lost since the last check;
 * - the key is gone: `missing` — Redis holds nothing of what was written before. The write
 *   that noticed it also put the marker back, so among every instance checking the same key
 *   exactly one sees `missing` per loss (`SET NX` is atomic), and that one repairs.
 *
 * A brand-new Redis is `missing` at the first check too: for a service that rebuilds from its
 * system of record (re-drives its outbox) the two cases need the same repair. It cannot see a
 * partial loss: a failover to a replica that lacked the last writes (the WAIT before marking
 * rows published covers that), an older snapshot restored (which holds the marker; the
 * restore re-drives since the snapshot), or on a Cluster a shard other than the marker's.
 */
export class DataLossMarker {
  readonly #key: string;
  readonly #owner: string;
  readonly #metrics: ReturnType<typeof dataLossMetrics>;
  readonly #name: string;

  constructor(
    private readonly redis: RedisClient,
    options: DataLossMarkerOptions,
  ) {
    this.#key = options.key;
    this.#owner = options.owner;
    this.#name = options.name;
    this.#metrics = dataLossMetrics(options.registry);
  }

  /** One check: `missing` to exactly one caller per loss (it set the marker again). Rejects if Redis does not answer. */
  async check(): Promise<MarkerCheck> {
    try {
      const set = await this.redis.set(this.#key, `${this.#owner} ${new Date().toISOString()}`, 'NX');
      const outcome = set === 'OK' ? 'missing' : 'present';
      this.#metrics?.checks.inc({ marker: this.#name, outcome });
      return outcome;
    } catch (err) {
      this.#metrics?.checks.inc({ marker: this.#name, outcome: 'failed' });
      throw err;
    }
  }
}

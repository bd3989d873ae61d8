import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { extendScript, releaseScript } from '../lock/lock-scripts.js';
import { removeWhenAnswered } from '../lock/remove-when-answered.js';
import { defineScript } from '../scripts/define-script.js';
import { inSpan } from '../tracing/spans.js';
import { idempotencyMetrics } from './idempotency-metrics.js';

/** A response kept for replay. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

type Pending = { state: 'pending'; fp: string; token: string };
type Done = { state: 'done'; fp: string; response: StoredResponse };

/** Options for {@link IdempotencyStore}. */
export interface IdempotencyOptions {
  /** How long a completed response is replayed. Default 24 h. */
  ttlMs?: number;
  /** How long a claim lives while the first request runs; must exceed the request timeout. Default 30 000 ms. */
  inFlightTtlMs?: number;
  /**
   * A claim is written with this short TTL and extended to `inFlightTtlMs` once its owner
   * saw that it got it, so a claim that lands late (its owner already gave up) blocks the
   * key for this long at most. Default 2 000 ms (capped at `inFlightTtlMs`).
   */
  claimTtlMs?: number;
  /** A repeat that finds the original still running waits this long for its response before 409. Default 0. */
  waitMs?: number;
  /**
   * The work keeps its own durable record per key and replays it when run again (as order
   * does: the key is stored with the order in Postgres). Then a response that could not be
   * stored because Redis stopped answering is still returned, and its claim abandoned, so a
   * retry reaches that record at once instead of waiting out the in-flight TTL. Without it
   * (default `false`), that failure is thrown and the claim left to expire, so the work
   * cannot run twice while the claim lives.
   */
  workIsIdempotent?: boolean;
  /** Where metrics go. Default: none. */
  registry?: Registry;
}

/** 409: the same key is being executed right now. */
export class IdempotencyInFlightError extends Error {
  override name = 'IdempotencyInFlightError';
  constructor(readonly key: string) {
    super('A request with this Idempotency-Key is still being processed');
  }
}

/** 422: the key was used before with a different request. */
export class IdempotencyMismatchError extends Error {
  override name = 'IdempotencyMismatchError';
  constructor(readonly key: string) {
    super('This Idempotency-Key was used with a different request payload');
  }
}

/** Replace the claim with the final response, only if the claim is still ours. */
const completeScript = defineScript<number>(
  'sfIdempotencyComplete',
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`,
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Idempotency keys: the first request with a key claims it (SET NX) and runs; its
 * response is stored and replayed to every repeat for `ttlMs`. A repeat with a different
 * payload fingerprint is rejected (422); a repeat while the first still runs waits up
 * to `waitMs`, then gets 409. If the first request throws, the claim is removed so a
 * retry can run.
 *
 * A claim whose `SET` failed because Redis could not answer (timed out while it was
 * frozen, failing over or reconnecting) may still have landed: ioredis keeps the command
 * queued, and the server runs it late. No work ran for it, so it is abandoned — removed
 * in the background (`removeWhenAnswered`: compare-and-delete on its own token, retried
 * until Redis answers or the claim would have expired anyway). And a claim is written with a short TTL
 * (`claimTtlMs`) that its owner extends once it knows it got it, so even a late claim the
 * removal missed (the server ran it after the removal's last look) blocks the key for seconds, not for the in-flight TTL. Without both, a retry
 * with the key would wait for a request that never ran and answer 409 for up to the whole
 * in-flight TTL (tests: idempotency › "abandons a claim that landed after its SET timed
 * out…", "writes a claim with the short claim TTL…").
 */
export class IdempotencyStore {
  readonly #redis: RedisClient;
  readonly #ttlMs: number;
  readonly #inFlightTtlMs: number;
  readonly #claimTtlMs: number;
  readonly #workIsIdempotent: boolean;
  readonly #waitMs: number;
  readonly #metrics: ReturnType<typeof idempotencyMetrics>;

  constructor(redis: RedisClient, options: IdempotencyOptions = {}) {
    this.#redis = redis;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#inFlightTtlMs = options.inFlightTtlMs ?? 30_000;
    this.#claimTtlMs = Math.min(options.claimTtlMs ?? 2_000, this.#inFlightTtlMs);
    this.#workIsIdempotent = options.workIsIdempotent ?? false;
    this.#waitMs = options.waitMs ?? 0;
    this.#metrics = idempotencyMetrics(options.registry);
  }

  /**
   * Run `work` once per `key`. `fp` identifies the request payload (see `fingerprint`).
   * Resolves with the response and whether it was replayed.
   */
  execute(
    key: string,
    fp: string,
    work: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }> {
    // Traced as `idempotency` with `idempotency.outcome` (first, replayed; an error for a mismatch or one in flight).
    return inSpan('idempotency', {}, async (span) => {
      const result = await this.#execute(key, fp, work);
      span.setAttribute('idempotency.outcome', result.replayed ? 'replayed' : 'first');
      return result;
    });
  }

  async #execute(
    key: string,
    fp: string,
    work: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }> {
    const pending = JSON.stringify({ state: 'pending', fp, token: randomBytes(12).toString('hex') } satisfies Pending);
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      let previous: string | null;
      try {
        previous = await this.#redis.set(key, pending, 'PX', this.#claimTtlMs, 'NX', 'GET');
        // Ours: give it the whole in-flight TTL before the work starts.
        if (previous === null && this.#claimTtlMs < this.#inFlightTtlMs) {
          await extendScript(this.#redis)(key, pending, this.#inFlightTtlMs);
        }
      } catch (error) {
        this.#abandon(key, pending);
        throw error;
      }
      if (previous === null) return { response: await this.#run(key, fp, pending, work), replayed: false };
      const record = JSON.parse(previous) as Pending | Done;
      if (record.fp !== fp) {
        this.#metrics?.idempotency.inc({ outcome: 'mismatch' });
        throw new IdempotencyMismatchError(key);
      }
      if (record.state === 'done') {
        this.#metrics?.idempotency.inc({ outcome: 'replayed' });
        return { response: record.response, replayed: true };
      }
      if (Date.now() >= deadline) {
        this.#metrics?.idempotency.inc({ outcome: 'in_flight' });
        throw new IdempotencyInFlightError(key);
      }
      await sleep(10);
    }
  }

  async #run(key: string, fp: string, pending: string, work: () => Promise<StoredResponse>): Promise<StoredResponse> {
    let response: StoredResponse;
    try {
      response = await work();
    } catch (error) {
      await releaseScript(this.#redis)(key, pending).catch(() => this.#abandon(key, pending));
      throw error;
    }
    const done = JSON.stringify({ state: 'done', fp, response } satisfies Done);
    try {
      await completeScript(this.#redis)(key, pending, done, this.#ttlMs);
    } catch (error) {
      if (!this.#workIsIdempotent) throw error;
      // The work happened and its own record replays it: answer, and free the key for that replay.
      this.#abandon(key, pending);
    }
    this.#metrics?.idempotency.inc({ outcome: 'executed' });
    return response;
  }

  /** Remove our claim once Redis answers (see `removeWhenAnswered`); it could not have run any work. */
  #abandon(key: string, pending: string): void {
    removeWhenAnswered(this.#redis, key, pending, {
      withinMs: this.#inFlightTtlMs,
      onRemoved: () => this.#metrics?.idempotency.inc({ outcome: 'abandoned' }),
    });
  }
}

import { randomBytes } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { inSpan } from '../tracing/spans.js';
import { LockLostError, LockTimeoutError } from './errors.js';
import { lockMetrics } from './lock-metrics.js';
import {
  acquireQueuedScript,
  acquireScript,
  extendScript,
  raiseFenceScript,
  releaseHandOffScript,
  releaseScript,
} from './lock-scripts.js';
import { removeWhenAnswered } from './remove-when-answered.js';

/** Options for {@link RedisLock}. */
export interface LockOptions {
  /** Lease time-to-live. Default 10 000 ms. */
  ttlMs?: number;
  /** Give up acquiring after this long. Default 5 000 ms. */
  acquireTimeoutMs?: number;
  /** Base delay between polling attempts; each wait is random in [0.5, 1.5] × this, capped by the lock's remaining TTL. Default 25 ms. */
  retryDelayMs?: number;
  /** Renew the lease every ttl/3 while it is held. Default true. */
  autoRenew?: boolean;
  /** Key of the fencing counter for a lock key. Default `${key}:fence` (same Cluster slot when the key has a hash tag). */
  fenceKey?: (key: string) => string;
  /** Where lock metrics go. Default: none. */
  registry?: Registry;
  /**
   * A pub/sub connection for a fair hand-off. With it, a waiter joins the key's queue
   * (`<key>:queue`, by wait deadline: first come, first served when waits are equal) and a
   * release gives the lock straight to the first waiter still waiting, with a new fence,
   * announced on the channel of that waiter's lock instance (`<handOffChannel><instance
   * id>`, subscribed once, at the first acquisition): one waiter wakes, already holding the
   * lock, instead of every waiter racing for it (a thundering herd) or sleeping out a delay.
   * Waiters also look every second (or at the holder's expiry, if sooner) in case a message
   * was lost or a holder died. Every lock instance on a key must use it (a polling instance
   * would not hand off). Needs a Cluster hash tag in `key` (the lock, its fence and its
   * queue share a slot). Default: off (waiters poll with jitter).
   */
  handOff?: RedisClient;
  /** Prefix of the hand-off channels (an ACL channel pattern must allow it). Default `lock:handoff:`. */
  handOffChannel?: string;
}

/** How often a waiter in the hand-off queue looks for itself, in case it missed its message. */
const HAND_OFF_CHECK_MS = 1000;

/** A held lock. */
export interface Lease {
  readonly key: string;
  readonly token: string;
  /**
   * Fencing token: grows by one on every acquisition of this key, forever. Pass it to the
   * store with each write; the store rejects a write whose token is lower than one it has
   * seen, so a holder that was paused past its TTL cannot overwrite a newer holder's work.
   */
  readonly fence: number;
  /** Aborted when renewal finds the lease gone. Long work should check it. */
  readonly signal: AbortSignal;
  /** Push the expiry to `ttlMs` from now; throws {@link LockLostError} when the lease is gone. */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Release if still ours. Resolves `false` when it had already been lost. Safe to call
   * twice; when Redis could not be reached it rejects, and a later call tries again.
   */
  release(): Promise<boolean>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or nothing once `ms` have passed (the promise goes on by itself). */
const within = (promise: Promise<unknown>, ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
};

/**
 * A single-instance Redis lock with a random token, PX TTL, Lua compare-and-delete
 * release, automatic renewal, waiting until a deadline (retry with jitter, or a fair queue
 * with hand-off: {@link LockOptions.handOff}), and a fencing token.
 * For several keys at once use {@link RedisLock.withLocks}: sorted order, all-or-nothing.
 */
export class RedisLock {
  readonly #redis: RedisClient;
  readonly #ttlMs: number;
  readonly #acquireTimeoutMs: number;
  /** How long an acquisition waits by default (`acquireTimeoutMs`). */
  get acquireTimeoutMs(): number {
    return this.#acquireTimeoutMs;
  }
  readonly #retryDelayMs: number;
  readonly #autoRenew: boolean;
  readonly #fenceKey: (key: string) => string;
  readonly #metrics: ReturnType<typeof lockMetrics>;
  readonly #subscriber: RedisClient | undefined;
  /** This instance's id: the first part of its waiters' tokens, which names the channel a release hands them the lock on. */
  readonly #instanceId = randomBytes(8).toString('hex');
  /** Prefix of every lock instance's hand-off channel (the release script appends the waiter's instance id). */
  readonly #handOffPrefix: string;
  /** The channel this instance's waiters are handed locks on (hand-off mode). */
  readonly handOffChannel: string | undefined;
  /** Subscribed to {@link handOffChannel} (once, at the first wait; ioredis subscribes again after a reconnect). */
  #listening = false;
  #subscribing: Promise<void> | undefined;
  /** Waiters by token, told their fence when a release hands them the lock. */
  readonly #handOffs = new Map<string, (fence: number) => void>();

  constructor(redis: RedisClient, options: LockOptions = {}) {
    this.#redis = redis;
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? 5_000;
    this.#retryDelayMs = options.retryDelayMs ?? 25;
    this.#autoRenew = options.autoRenew ?? true;
    this.#fenceKey = options.fenceKey ?? ((key) => `${key}:fence`);
    this.#metrics = lockMetrics(options.registry);
    this.#subscriber = options.handOff;
    this.#handOffPrefix = options.handOffChannel ?? 'lock:handoff:';
    this.handOffChannel = this.#subscriber ? `${this.#handOffPrefix}${this.#instanceId}` : undefined;
    // '<token> <fence>': the waiter may not have read the reply that queued it yet; its handler is there before it asks.
    this.#subscriber?.on('message', (channel: string, message: string) => {
      if (channel !== this.handOffChannel) return;
      const [token, fence] = message.split(' ');
      this.#handOffs.get(token!)?.(Number(fence));
    });
  }

  /** Try once; `undefined` when someone else holds it. */
  async tryAcquire(key: string): Promise<Lease | undefined> {
    const token = randomBytes(16).toString('hex');
    const result = await acquireScript(this.#redis)(key, this.#fenceKey(key), token, this.#ttlMs);
    return result > 0 ? this.#lease(key, token, result) : undefined;
  }

  /**
   * Acquire, retrying with jitter until `acquireTimeoutMs`; throws {@link LockTimeoutError}.
   * Traced as a `lock acquire` span: `lock.key`, `lock.wait_ms`, `lock.attempts`, `lock.fence`.
   */
  acquire(key: string, { timeoutMs = this.#acquireTimeoutMs }: { timeoutMs?: number } = {}): Promise<Lease> {
    return inSpan('lock acquire', { 'lock.key': key }, (span) => this.#acquire(key, timeoutMs, span));
  }

  async #acquire(key: string, timeoutMs: number, span: Span): Promise<Lease> {
    const started = performance.now();
    const deadline = started + timeoutMs;
    // One token for the whole wait: the hand-off queue knows the waiter by it, and its first
    // part (this instance's id) names the channel a release hands the lock on.
    const token = `${this.#instanceId}.${randomBytes(12).toString('hex')}`;
    let handed: number | undefined;
    let wake: (() => void) | undefined;
    const got = (fence: number, attempts: number) => {
      const waited = performance.now() - started;
      this.#metrics?.lockWait.observe({ outcome: 'acquired' }, waited / 1000);
      span.setAttributes({ 'lock.fence': fence, 'lock.wait_ms': Math.round(waited), 'lock.attempts': attempts });
      return this.#lease(key, token, fence);
    };
    // The handler is there before we ask: a hand-off may arrive before the reply that queued us.
    if (this.#subscriber)
      this.#handOffs.set(token, (fence) => {
        handed = fence;
        wake?.();
      });
    try {
      for (let attempt = 0; ; attempt++) {
        // Whether a hand-off made once this request has queued us would be heard: the
        // subscription must have taken effect before the request went out, not merely by the
        // time its reply is read (the reply and the subscription's arrive on two sockets).
        const heardBefore = this.#listening;
        let result: number;
        try {
          result = this.#subscriber
            ? await acquireQueuedScript(this.#redis)(
                key,
                this.#fenceKey(key),
                this.#queueKey(key),
                token,
                this.#ttlMs,
                Math.max(1, Math.ceil(deadline - performance.now())),
              )
            : await acquireScript(this.#redis)(key, this.#fenceKey(key), token, this.#ttlMs);
        } catch (error) {
          // Redis did not answer; the acquisition may still run late (queued in a frozen server)
          // and hold the key for a TTL with nobody behind it. Remove it by its token.
          this.#abandon(key, token);
          throw error;
        }
        if (result > 0) return got(result, attempt + 1);
        if (attempt === 0) this.#metrics?.lockContention.inc();
        if (handed !== undefined) return got(handed, attempt + 1);
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          span.setAttributes({ 'lock.wait_ms': Math.round(performance.now() - started), 'lock.attempts': attempt + 1 });
          this.#metrics?.lockWait.observe({ outcome: 'timeout' }, (performance.now() - started) / 1000);
          // Leave the queue; a hand-off that reached us meanwhile goes on to the next waiter.
          if (this.#subscriber) await this.#release(key, token).catch(() => this.#abandon(key, token));
          throw new LockTimeoutError(key, timeoutMs);
        }
        if (this.#subscriber) {
          if (!heardBefore) {
            // Queued before this instance was listening: listen, then look again at once (a
            // hand-off made before the subscription took effect is found by that look). Later
            // waits are heard. A subscription refused (an ACL without the channel) leaves the
            // waiter to its looks.
            const heard = await within(this.#listen(), remaining).then(
              () => this.#listening,
              () => false,
            );
            if (heard) continue;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(1, Math.min(HAND_OFF_CHECK_MS, -result, remaining)));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (handed !== undefined) return got(handed, attempt + 1);
          continue; // look again: the lock may have come to us unheard, or be free
        }
        // Jitter spreads waiters so they do not retry in lockstep; never sleep past the holder's TTL or our deadline.
        await sleep(Math.max(1, Math.min(this.#retryDelayMs * (0.5 + Math.random()), -result, remaining)));
      }
    } finally {
      this.#handOffs.delete(token);
    }
  }

  /**
   * Acquire every key (deduplicated, in sorted order so two callers never wait on each
   * other in a cycle), run `work`, release all. All-or-nothing: if any key times out,
   * the ones already held are released and {@link LockTimeoutError} is thrown.
   * `work` gets the leases by key, for their fencing tokens. With `timeoutMs` the wait for
   * all of them together is bounded by it; without, each key waits up to `acquireTimeoutMs`.
   */
  async withLocks<T>(
    keys: readonly string[],
    work: (leases: ReadonlyMap<string, Lease>) => Promise<T>,
    { timeoutMs }: { timeoutMs?: number } = {},
  ): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const leases = new Map<string, Lease>();
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    try {
      for (const key of sorted) {
        const left = deadline === undefined ? this.#acquireTimeoutMs : Math.ceil(deadline - performance.now());
        if (left <= 0) throw new LockTimeoutError(key, timeoutMs ?? left);
        leases.set(key, await this.acquire(key, { timeoutMs: left }));
      }
      return await work(leases);
    } finally {
      const held = [...leases.values()];
      const released = await Promise.allSettled(held.map((lease) => lease.release()));
      // A release Redis could not answer (down, frozen, failing over) leaves the key locked
      // until its TTL, blocking everyone else: keep trying in the background meanwhile.
      released.forEach((r, i) => {
        if (r.status === 'rejected') this.#releaseLater(held[i]!);
      });
    }
  }

  /**
   * Move `key`'s fencing counter up to at least `atLeast` (a fence the store holds). Call it
   * when the store refused a write for a fence lower than its own: either a newer holder
   * wrote (the counter is already past it, and this changes nothing), or Redis lost the
   * counter (a restart without persistence, a failover before replication) and it started
   * again from zero, so every new lease would be refused until it crawled back. After this,
   * the next acquisition gets a fence the store accepts. Resolves with the counter's value.
   */
  async raiseFence(key: string, atLeast: number): Promise<number> {
    const value = await raiseFenceScript(this.#redis)(this.#fenceKey(key), atLeast);
    if (value === atLeast) this.#metrics?.lockFenceRaised.inc();
    return value;
  }

  /** {@link withLocks} for one key. */
  withLock<T>(key: string, work: (lease: Lease) => Promise<T>): Promise<T> {
    return this.withLocks([key], (leases) => work(leases.get(key)!));
  }

  /** Subscribe to this instance's hand-off channel (once; a failed attempt is tried again by the next wait). */
  #listen(): Promise<void> {
    this.#subscribing ??= this.#subscriber!.subscribe(this.handOffChannel!).then(
      () => {
        this.#listening = true;
      },
      (error: unknown) => {
        this.#subscribing = undefined;
        throw error;
      },
    );
    return this.#subscribing;
  }

  /** Release `key` if `token` holds it: with a hand-off to the next waiter when waiters queue. */
  async #release(key: string, token: string): Promise<boolean> {
    if (!this.#subscriber) return (await releaseScript(this.#redis)(key, token)) === 1;
    const outcome = await releaseHandOffScript(this.#redis)(
      key,
      this.#fenceKey(key),
      this.#queueKey(key),
      token,
      this.#ttlMs,
      this.#handOffPrefix,
    );
    if (outcome === 2) this.#metrics?.lockHandOffs.inc();
    return outcome !== 0;
  }

  #queueKey(key: string): string {
    return `${key}:queue`;
  }

  /** Remove a lock a timed-out acquisition may still take, once Redis answers (see `removeWhenAnswered`). */
  #abandon(key: string, token: string): void {
    removeWhenAnswered(this.#redis, key, token, { withinMs: this.#ttlMs });
  }

  /** Retry `lease.release()` (100 ms doubling to 1 s) until it answers or the lease's TTL has passed. */
  #releaseLater(lease: Lease): void {
    const giveUpAt = performance.now() + this.#ttlMs;
    const attempt = (delayMs: number) => {
      setTimeout(() => {
        lease.release().catch(() => {
          if (performance.now() + delayMs < giveUpAt) attempt(Math.min(2 * delayMs, 1_000));
        });
      }, delayMs).unref();
    };
    attempt(100);
  }

  #lease(key: string, token: string, fence: number): Lease {
    const controller = new AbortController();
    const acquiredAt = performance.now();
    let released: Promise<boolean> | undefined;
    const lost = () => {
      if (!controller.signal.aborted) {
        this.#metrics?.lockLost.inc();
        controller.abort(new LockLostError(key));
      }
    };
    const extend = async (ttlMs = this.#ttlMs) => {
      if ((await extendScript(this.#redis)(key, token, ttlMs)) !== 1) {
        lost();
        throw new LockLostError(key);
      }
    };
    const renewal = this.#autoRenew
      ? setInterval(
          () => {
            extend().catch(() => {
              // Lost, or Redis unreachable: either way stop renewing; the signal tells the holder.
              clearInterval(renewal);
              lost();
            });
          },
          Math.max(1, Math.floor(this.#ttlMs / 3)),
        )
      : undefined;
    renewal?.unref();
    return {
      key,
      token,
      fence,
      signal: controller.signal,
      extend,
      release: () => {
        released ??= (async () => {
          clearInterval(renewal);
          const ok = await this.#release(key, token);
          this.#metrics?.lockHeld.observe((performance.now() - acquiredAt) / 1000);
          if (!ok) lost();
          return ok;
        })().catch((error: unknown) => {
          // Redis did not answer (down, frozen, failing over): the release did not happen,
          // so a later call must be able to try again rather than get this error forever.
          released = undefined;
          throw error;
        });
        return released;
      },
    };
  }
}

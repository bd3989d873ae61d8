import type { Registry } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../connections/create-redis.js';
import { rateLimitMetrics } from './rate-limit-metrics.js';

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Names the metric label and prefixes the Redis keys. */
  name: string;
  /** Requests allowed per window per key. */
  points: number;
  /** Window length in seconds. */
  durationSeconds: number;
  /** Redis key prefix. Default `ratelimit:${name}`. */
  keyPrefix?: string;
  /** Where metrics go. Default: none. */
  registry?: Registry;
}

/** A rate-limit decision. */
export interface RateLimitDecision {
  allowed: boolean;
  remaining: number;
  /** When the window resets (ms from now); use for `Retry-After` when not allowed. */
  retryAfterMs: number;
  /** `redis` normally; `memory` while Redis is unreachable and the in-process fallback decided. */
  backend: 'redis' | 'memory';
}

/**
 * A fixed-window limit shared by every instance through Redis (rate-limiter-flexible's
 * atomic INCR + EXPIRE script). While Redis is unreachable, decisions fall to an
 * in-memory limiter with the same budget per process: the limit stays on (per instance)
 * instead of failing open or failing every request.
 */
export class RateLimiter {
  readonly #redisLimiter: RateLimiterRedis;
  readonly #memoryLimiter: RateLimiterMemory;
  readonly #name: string;
  readonly #metrics: ReturnType<typeof rateLimitMetrics>;

  constructor(redis: RedisClient, options: RateLimiterOptions) {
    this.#name = options.name;
    this.#memoryLimiter = new RateLimiterMemory({
      keyPrefix: `${options.name}:memory`,
      points: options.points,
      duration: options.durationSeconds,
    });
    this.#redisLimiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: options.keyPrefix ?? `ratelimit:${options.name}`,
      points: options.points,
      duration: options.durationSeconds,
      // Do not queue behind a reconnecting client: decide from memory at once.
      rejectIfRedisNotReady: true,
    });
    this.#metrics = rateLimitMetrics(options.registry);
  }

  /** Spend one point for `key` (a customer id, an IP). */
  async consume(key: string): Promise<RateLimitDecision> {
    try {
      return this.#decision(await this.#redisLimiter.consume(key), true, 'redis');
    } catch (error) {
      if (error instanceof RateLimiterRes) return this.#decision(error, false, 'redis');
      // Redis failed or is not ready: the in-memory fallback decides.
      try {
        return this.#decision(await this.#memoryLimiter.consume(key), true, 'memory');
      } catch (fallback) {
        if (fallback instanceof RateLimiterRes) return this.#decision(fallback, false, 'memory');
        throw fallback;
      }
    }
  }

  #decision(res: RateLimiterRes, allowed: boolean, backend: 'redis' | 'memory'): RateLimitDecision {
    if (!allowed) this.#metrics?.rateLimited.inc({ limiter: this.#name, backend });
    return { allowed, remaining: res.remainingPoints, retryAfterMs: res.msBeforeNext, backend };
  }
}

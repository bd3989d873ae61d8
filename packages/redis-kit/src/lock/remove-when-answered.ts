import type { RedisClient } from '../connections/create-redis.js';
import { releaseScript } from './lock-scripts.js';

/** Options for {@link removeWhenAnswered}. */
export interface RemoveWhenAnsweredOptions {
  /** Stop trying after this long (the TTL the write was made with: it is gone by then anyway). */
  withinMs: number;
  /** Called once if the key was found holding `token` and deleted. */
  onRemoved?: () => void;
}

/**
 * Compare-and-delete `key` if it still holds `token`, in the background, for a write whose
 * command timed out: Redis may still run it late (a frozen server runs what was in its
 * input once it wakes; a client of a role that re-sends sends it again at its next ready), leaving a claim or a lock nobody is behind.
 * Retried (100 ms doubling to 1 s) while Redis cannot answer, then looked at twice more
 * (500 ms apart) after it answered that the key is not there — the late write can land
 * after a first look. The lock (a timed-out acquisition, a dropped release) and the
 * idempotency store (a timed-out claim) use it.
 */
export const removeWhenAnswered = (
  redis: RedisClient,
  key: string,
  token: string,
  { withinMs, onRemoved }: RemoveWhenAnsweredOptions,
): void => {
  const giveUpAt = performance.now() + withinMs;
  const attempt = (delayMs: number, looksLeft: number) => {
    setTimeout(async () => {
      let next = Math.min(2 * delayMs, 1_000);
      try {
        if ((await releaseScript(redis)(key, token)) === 1) return onRemoved?.();
        if (looksLeft <= 0) return;
        looksLeft--;
        next = 500;
      } catch {
        // Redis cannot answer yet: try again
      }
      if (performance.now() + next < giveUpAt) attempt(next, looksLeft);
    }, delayMs).unref();
  };
  attempt(100, 2);
};

import type { RedisClient } from '../connections/create-redis.js';

/**
 * Atomic counters shared by every instance (INCRBY). `key` maps a counter name to its
 * Redis key; the ACL file reserves `stats:<service>:*` for them.
 */
export class Counters {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (name: string) => string,
  ) {}

  /** Add `by` (default 1); resolves with the new value. */
  incr(name: string, by = 1): Promise<number> {
    return this.redis.incrby(this.key(name), by);
  }

  /** Current values (0 for a counter never incremented). */
  async read(names: readonly string[]): Promise<Record<string, number>> {
    const values = await Promise.all(names.map((n) => this.redis.get(this.key(n))));
    return Object.fromEntries(names.map((n, i) => [n, Number(values[i] ?? 0)]));
  }
}

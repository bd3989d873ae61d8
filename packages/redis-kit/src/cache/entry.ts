/**
 * What the cache stores under a key, in Redis (as JSON) and in L1.
 * `v` is the value, or `null` for a cached "not found" (negative entry).
 * `tomb` marks an invalidation that remembers its version, so a loader that read an
 * older row cannot write it back after the invalidation.
 */
export interface CacheEntry<T> {
  v: T | null;
  /** Version of the source row; an older version never overwrites a newer one. */
  ver: number;
  /** Fresh until this time (ms epoch); after it, stale (served only while revalidating). */
  fresh: number;
  tomb?: true;
}

/** Which tier answered a read. */
export type CacheTier = 'l1' | 'l2' | 'stale' | 'miss';

/** A read's answer. `value` is `null` for a (cached) not-found. */
export interface CacheResult<T> {
  value: T | null;
  tier: CacheTier;
}

/** What a loader returns: the row and its version, or `null` when it does not exist. */
export type Loaded<T> = { value: T; version: number } | null;

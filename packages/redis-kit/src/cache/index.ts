export type { CacheEntry, CacheResult, CacheTier, Loaded } from './entry.js';
export { type CacheOptions, TwoTierCache } from './two-tier-cache.js';

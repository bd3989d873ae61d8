export type { CacheEntry, CacheResult, CacheTier, Loaded } from './entry.js';
export { type CompressionOptions, decodeEntry, encodeEntry } from './entry-codec.js';
export { type CacheOptions, TwoTierCache } from './two-tier-cache.js';

export * from './acl-audit/index.js';
export * from './cache/index.js';
export * from './connections/index.js';
export * from './events/index.js';
export * from './idempotency/index.js';
export * from './lock/index.js';
export * from './rate-limit/index.js';
export * from './registry/index.js';

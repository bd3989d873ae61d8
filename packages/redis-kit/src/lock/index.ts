export { LockLostError, LockTimeoutError } from './errors.js';
export { type Lease, type LockOptions, RedisLock } from './redis-lock.js';

import { defineScript } from '../scripts/define-script.js';

/**
 * KEYS[1] lock, KEYS[2] fencing counter; ARGV[1] token, ARGV[2] ttl ms.
 * Returns the new fencing token (> 0) on success, or -(remaining ttl ms) when held,
 * so a waiter knows how long it may sleep. The counter never expires: a fencing token
 * must never repeat, even after the lock key is long gone.
 */
export const acquireScript = defineScript<number>(
  'sfLockAcquire',
  2,
  `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
return -ttl
`,
);

/** Delete the lock only if it still holds our token (compare-and-delete). 1 = released, 0 = not ours. */
export const releaseScript = defineScript<number>(
  'sfLockRelease',
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
);

/** Push the expiry out only if the lock still holds our token. 1 = extended, 0 = lost. */
export const extendScript = defineScript<number>(
  'sfLockExtend',
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`,
);

/** Compare-and-delete, then announce the release on ARGV[2] so waiters retry at once. */
export const releaseAndNotifyScript = defineScript<number>(
  'sfLockReleaseNotify',
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '1')
  return 1
end
return 0
`,
);

/**
 * Move a fencing counter up to at least ARGV[1] (never down). KEYS[1] the counter.
 * Returns the counter's value afterwards.
 */
export const raiseFenceScript = defineScript<number>(
  'sfLockRaiseFence',
  1,
  `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then
  redis.call('SET', KEYS[1], floor)
  return floor
end
return current
`,
);

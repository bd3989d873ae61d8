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

/** Redis's clock in ms, for deadlines every instance agrees on (scripts replicate their effects, so TIME is allowed). */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The fair-queue acquisition. KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiters (a sorted
 * set of tokens by wait deadline); ARGV[1] token, ARGV[2] ttl ms, ARGV[3] how long the caller
 * still waits, ms. Returns the fence (> 0) when the caller holds the lock — taken now because
 * it was free, or handed to it by a release it did not hear — else queues the caller and
 * returns -(the holder's remaining ttl ms).
 */
export const acquireQueuedScript = defineScript<number>(
  'sfLockAcquireQueued',
  3,
  `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return tonumber(redis.call('GET', KEYS[2]))
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return redis.call('INCR', KEYS[2])
end
${NOW_MS}
local wait = tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], 'NX', now + wait, ARGV[1])
if redis.call('PTTL', KEYS[3]) < wait then redis.call('PEXPIRE', KEYS[3], wait + 1000) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
return -ttl
`,
);

/**
 * Release with a hand-off, or leave the queue (a waiter giving up). KEYS[1] lock, KEYS[2]
 * fencing counter, KEYS[3] waiters; ARGV[1] token, ARGV[2] ttl ms, ARGV[3] the hand-off
 * channels' prefix. Takes the token out of the queue; if it holds the lock, gives the lock to
 * the waiter with the earliest deadline that has not passed — a new fence, published as
 * `<token> <fence>` on ARGV[3] .. the token's first part (its lock instance's id, before the
 * '.'), the channel that instance listens on — or frees it when nobody waits.
 * 2 = handed off, 1 = freed, 0 = the token held nothing.
 */
export const releaseHandOffScript = defineScript<number>(
  'sfLockReleaseHandOff',
  3,
  `
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local next = redis.call('ZPOPMIN', KEYS[3])
if next[1] then
  redis.call('SET', KEYS[1], next[1], 'PX', ARGV[2])
  local fence = redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[3] .. string.match(next[1], '^[^.]*'), next[1] .. ' ' .. fence)
  return 2
end
redis.call('DEL', KEYS[1])
return 1
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

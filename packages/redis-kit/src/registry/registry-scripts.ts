import { defineScript } from '../scripts/define-script.js';

/**
 * Register or heartbeat one instance, in one step.
 * KEYS[1] instance record, KEYS[2] service index (sorted set scored by expiry, server ms).
 * ARGV[1] record JSON, ARGV[2] ttl ms, ARGV[3] instance id, ARGV[4] change channel, ARGV[5] join message.
 * Also prunes expired entries from its own service's index, so discovery can stay
 * read-only (and an ACL can give other services read access only).
 * Returns 1 renewed, 2 (re)registered (the key was missing: first start, expiry, FLUSHALL,
 * a Redis restart or failover that lost it), 0 the id is held by a different record.
 * Server time (TIME) scores the index, so clients with skewed clocks agree on expiry.
 */
export const heartbeatScript = defineScript<number>(
  'sfRegistryHeartbeat',
  2,
  `
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', expires - tonumber(ARGV[2]))
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], expires, ARGV[3])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], expires, ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 2
`,
);

/** Remove our record if it is still ours. KEYS as above; ARGV[1] record, ARGV[2] id, ARGV[3] channel, ARGV[4] leave message. */
export const deregisterScript = defineScript<number>(
  'sfRegistryDeregister',
  2,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
redis.call('ZREM', KEYS[2], ARGV[2])
return 0
`,
);

import { defineScript } from '../scripts/define-script.js';

/**
 * Register or heartbeat one instance, in one step.
 * KEYS[1] instance record, KEYS[2] service index (sorted set scored by expiry, server ms).
 * ARGV[1] record JSON, ARGV[2] ttl ms, ARGV[3] instance id, ARGV[4] change channel, ARGV[5] join message.
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

/**
 * List live instances of one service: drop index entries whose expiry passed, then
 * return { server now ms, id, expiry, record, … }. Index and records share a hash tag, so
 * this runs on one Cluster node. KEYS[1] index; ARGV[1] instance key prefix.
 */
export const listScript = defineScript<(string | number)[]>(
  'sfRegistryList',
  1,
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local entries = redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE', 'WITHSCORES')
local out = { now }
for i = 1, #entries, 2 do
  local record = redis.call('GET', ARGV[1] .. entries[i])
  if record then
    table.insert(out, entries[i])
    table.insert(out, entries[i + 1])
    table.insert(out, record)
  end
end
return out
`,
);

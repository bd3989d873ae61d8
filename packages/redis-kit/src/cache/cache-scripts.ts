import { defineScript } from '../scripts/define-script.js';

/**
 * Write a cache entry unless the stored one carries a newer version.
 * KEYS[1] entry; ARGV[1] entry JSON, ARGV[2] its version, ARGV[3] PX ms.
 * Returns 1 written, 0 refused (a newer value or tombstone is already there).
 */
export const versionedSetScript = defineScript<number>(
  'sfCacheVersionedSet',
  1,
  `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.ver) and tonumber(decoded.ver) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`,
);

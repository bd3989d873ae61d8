import { defineScript } from '../scripts/define-script.js';

/**
 * KEYS[1] the event's "seen" marker, KEYS[2] the bucket's sorted set; ARGV[1] when both
 * expire (unix ms), then member, increment pairs. Counts the event once: the marker is
 * set only if absent, and the increments run only when it was. Returns 1 counted, 0 seen.
 */
export const recordScript = defineScript<number>(
  'sfRankingRecord',
  2,
  `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1]) then
  return 0
end
for i = 2, #ARGV, 2 do
  redis.call('ZINCRBY', KEYS[2], ARGV[i + 1], ARGV[i])
end
redis.call('PEXPIREAT', KEYS[2], ARGV[1])
return 1
`,
);

import type { RedisClient } from './create-redis.js';

/** Thrown when coordination data could be evicted. */
export class EvictionPolicyError extends Error {
  override name = 'EvictionPolicyError';
}

const policyOf = async (client: { info(section: string): Promise<string> }): Promise<string> => {
  const text = await client.info('memory');
  return /maxmemory_policy:(\S+)/.exec(text)?.[1] ?? 'unknown';
};

/**
 * Read the server's `maxmemory-policy` (through `INFO memory`, which ACL users may run;
 * `CONFIG` is denied to them). On a Cluster, every primary is checked.
 */
export const evictionPolicies = async (client: RedisClient): Promise<string[]> =>
  'nodes' in client && typeof client.nodes === 'function'
    ? Promise.all(client.nodes('master').map((node) => policyOf(node)))
    : [await policyOf(client)];

/**
 * Refuse to run coordination (locks, queues, registry, idempotency) on a Redis that may
 * evict keys: an evicted lock or job is silent data loss. Call at start-up on the
 * coordination connection.
 */
export const assertNoEviction = async (client: RedisClient): Promise<void> => {
  const policies = await evictionPolicies(client);
  const bad = policies.filter((p) => p !== 'noeviction');
  if (bad.length > 0) {
    throw new EvictionPolicyError(
      `coordination Redis has maxmemory-policy ${bad[0]}; locks, queues and the registry need noeviction (set maxmemory-policy noeviction)`,
    );
  }
};

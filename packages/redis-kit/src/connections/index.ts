export {
  type ConnectionRole,
  type CreateRedisOptions,
  createRedis,
  DEFAULT_COMMAND_TIMEOUT_MS,
  type RedisClient,
} from './create-redis.js';
export { assertNoEviction, EvictionPolicyError, evictionPolicies } from './eviction-policy.js';
export {
  type HostPort,
  parseHostList,
  type RedisConfig,
  type RedisSettings,
  redisMode,
  toRedisConfig,
} from './redis-config.js';
export { RedisConnections } from './redis-connections.js';
export { isRedisUnavailable } from './unavailable.js';

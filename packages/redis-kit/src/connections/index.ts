export { type ClusterShard, clusterShards, parseClusterShards, shardForSlot } from './cluster-shards.js';
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
  type RedisTls,
  redisMode,
  toRedisConfig,
} from './redis-config.js';
export { RedisConnections, type RedisConnectionsOptions } from './redis-connections.js';
export { type ReviveOptions, reviveAfterEnd } from './revive-after-end.js';
export { isRedisUnavailable } from './unavailable.js';
export {
  NotReplicatedError,
  type ReplicaAcknowledgement,
  type ReplicaAckOptions,
  replicaAcknowledgement,
} from './wait-for-replicas.js';

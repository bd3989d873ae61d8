export { adminCommand, infoFields } from './admin-client.js';
export { pidAlive, stopChild, track } from './child-processes.js';
export { type ClusterOptions, type RedisCluster, startCluster } from './cluster.js';
export { freePort } from './free-port.js';
export {
  createTestDatabase,
  type PostgresServer,
  startEmbeddedPostgres,
  startPostgres,
  type TestDatabase,
} from './postgres.js';
export { type RedisProcess, type StartRedisOptions, redisServerBin, startRedisServer } from './redis-server.js';
export { type SentinelOptions, type SentinelTopology, startSentinelTopology } from './sentinel.js';
export { type WaitOptions, waitFor } from './wait-for.js';

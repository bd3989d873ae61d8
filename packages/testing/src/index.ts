import type {} from 'vitest';

// What the global setup provides to tests through `inject()`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** A Redis the whole test run shares; tests namespace their keys and never flush it. */
    redisUrl: string;
    /** A Postgres server; tests create their own database on it with `createTestDatabase`. */
    postgresUrl: string;
  }
}

export { randomAclPasswords, renderAcl, renderAclFile } from './acl.js';
export { adminCommand, infoFields } from './admin-client.js';
export { pidAlive, runNodeProcesses, stopChild, track } from './child-processes.js';
export { type ClusterNodeInfo, type ClusterOptions, parseClusterNodes, type RedisCluster, startCluster } from './cluster.js';
export { CLUSTER_BUS_OFFSET, freePort } from './free-port.js';
export {
  createIdentity,
  createServiceKeys,
  createShopCredentials,
  DEMO_AUDIENCE,
  DEMO_ISSUER,
  type Identity,
  type ServiceKeys,
  type ShopCredentials,
} from './identity.js';
export { type LineReader, lineReader } from './line-reader.js';
export {
  createTestDatabase,
  type PostgresServer,
  startEmbeddedPostgres,
  startPostgres,
  type TestDatabase,
} from './postgres.js';
export { type RedisProcess, redisServerBin, type StartRedisOptions, startRedisServer } from './redis-server.js';
export { type SentinelOptions, type SentinelTopology, startSentinelTopology } from './sentinel.js';
export { type ServiceProcess, type StartServiceOptions, startServiceProcess } from './service-process.js';
export { type CertificateOptions, createCertificates, createTestCertificates, type TestCertificates } from './tls.js';
export { type WaitOptions, waitFor } from './wait-for.js';

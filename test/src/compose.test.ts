import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmbeddedPostgres } from '@storefront/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is kept honest by
 * validation: Debian's docker-compose resolves it, and this suite checks it against the
 * code — each service's environment passes that service's own config validation, every
 * mounted file exists, ports and health checks match what the services serve.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface ComposeService {
  image?: string;
  build?: { args?: Record<string, string> };
  environment?: Record<string, string>;
  ports?: ({ published: number; target: number } | string)[];
  volumes?: ({ type: string; source: string; target: string } | string)[];
  healthcheck?: { test: string[] };
  command?: string[];
}
let services: Record<string, ComposeService>;

const loaders: Record<string, () => Promise<(env: NodeJS.ProcessEnv) => unknown>> = {
  catalog: async () => (await import(join(root, 'services/catalog/dist/config.js'))).loadCatalogConfig,
  order: async () => (await import(join(root, 'services/order/dist/config.js'))).loadOrderConfig,
  notifier: async () => (await import(join(root, 'services/notifier/dist/config.js'))).loadNotifierConfig,
  dashboard: async () => (await import(join(root, 'services/dashboard/dist/config.js'))).loadDashboardConfig,
};
const APPS = ['catalog-1', 'catalog-2', 'order-1', 'order-2', 'notifier', 'dashboard'];

/** `docker-compose config` with `envFile`'s variables (and the TLS overlay on top, with `tlsDir`). */
const resolve = async (envFile: string, tlsDir?: string) => {
  const files = ['-f', join(root, 'docker-compose.yml'), ...(tlsDir ? ['-f', join(root, 'docker-compose.tls.yml')] : [])];
  const { stdout } = await run('docker-compose', [...files, '--env-file', envFile, 'config'], {
    cwd: root,
    env: { ...process.env, ...(tlsDir ? { STOREFRONT_TLS_DIR: tlsDir } : {}) },
  });
  return parse(stdout).services as Record<string, ComposeService>;
};
let placeholderServices: Record<string, ComposeService>;
let generatedEnv: string;

beforeAll(async () => {
  // The env a user gets from `pnpm secrets > .env` (fresh keys and passwords).
  const dir = await mkdtemp(join(tmpdir(), 'storefront-compose-'));
  try {
    const { stdout } = await run(process.execPath, [join(root, 'demo/dist/secrets.js')]);
    generatedEnv = stdout;
    await writeFile(join(dir, '.env'), stdout);
    services = await resolve(join(dir, '.env'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  placeholderServices = await resolve(join(root, '.env.example'));
});

describe('docker-compose.yml', () => {
  it('is valid for docker-compose and lists the whole topology', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        ...APPS,
        'grafana',
        'jaeger',
        'otel-collector',
        'postgres',
        'prometheus',
        'redis-cache',
        'redis-primary',
        'redis-replica',
        'sentinel-1',
        'sentinel-2',
        'sentinel-3',
      ].sort(),
    );
  });

  it.each(APPS)('%s: its environment passes the service’s own config validation', async (name) => {
    const service = services[name]!;
    const kind = service.build?.args?.SERVICE ?? '';
    const load = await loaders[kind]!();
    expect(() => load(service.environment ?? {})).not.toThrow();
  });

  it.each(APPS)('%s: refuses to start with the placeholders of .env.example', async (name) => {
    const service = placeholderServices[name]!;
    const load = await loaders[service.build?.args?.SERVICE ?? '']!();
    expect(() => load(service.environment ?? {})).toThrow(/placeholder from \.env\.example/);
  });

  it('pnpm secrets covers every variable .env.example names', () => {
    const names = (text: string) => [...text.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]).sort();
    expect(names(generatedEnv)).toEqual(names(readFileSync(join(root, '.env.example'), 'utf8')));
  });

  it('gives each service its own Postgres role (never the superuser), owning only its database', () => {
    const init = readFileSync(join(root, 'infra/postgres/init.sh'), 'utf8');
    const roles = new Set<string>();
    for (const name of APPS.filter((a) => a !== 'dashboard')) {
      const url = new URL(services[name]!.environment?.DATABASE_URL ?? '');
      const [role, database] = [url.username, url.pathname.slice(1)];
      expect(role, name).not.toBe('postgres');
      expect(init).toContain(`CREATE DATABASE ${database} OWNER ${role};`);
      roles.add(`${services[name]!.build?.args?.SERVICE}:${role}`);
    }
    // One role per service: two instances share theirs, two services never do.
    expect(new Set([...roles].map((r) => r.split(':')[1])).size).toBe(3);
    expect(services.dashboard!.environment?.DATABASE_URL).toBeUndefined();
  });

  it('puts no secret on any command line', () => {
    const secrets = [...generatedEnv.matchAll(/^[A-Z_]+=(.+)$/gm)].map((m) => m[1]!);
    for (const [name, service] of Object.entries(services)) {
      const command = JSON.stringify([service.command ?? [], (service as { entrypoint?: unknown }).entrypoint ?? []]);
      for (const secret of secrets) expect(command.includes(secret), `${name}: ${command}`).toBe(false);
    }
  });

  it('publishes every port on loopback only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        const hostIp = typeof port === 'string' ? port.split(':')[0] : (port as { host_ip?: string }).host_ip;
        expect(hostIp, name).toBe('127.0.0.1');
      }
    }
  });

  it.each(APPS)('%s: publishes and health-checks the port it listens on, on /health/ready', (name) => {
    const service = services[name]!;
    const port = Number(service.environment?.PORT);
    const published = service.ports?.map((p) => (typeof p === 'string' ? Number(p.split(':').at(-1)?.split('/')[0]) : p.target));
    expect(published).toEqual([port]);
    expect(service.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/health/ready`);
  });

  it.each(APPS)('%s: connects as its own ACL user, through Sentinel', (name) => {
    const env = services[name]!.environment ?? {};
    const user = new URL(env.REDIS_URL ?? '').username;
    expect(user).toBe(services[name]!.build?.args?.SERVICE);
    expect(readFileSync(join(root, 'infra/redis/users.acl'), 'utf8')).toMatch(new RegExp(`^user ${user} on `, 'm'));
    expect(env.REDIS_SENTINELS?.split(',')).toHaveLength(3);
  });

  it('points every service’s OTLP exporter at the Collector, which sends traces to Jaeger and the dashboard', () => {
    for (const name of APPS) {
      expect(services[name]!.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe('http://otel-collector:4318');
    }
    const collector = readFileSync(join(root, 'infra/otel/collector.yaml'), 'utf8');
    expect(collector).toMatch(/endpoint: 0\.0\.0\.0:4318/);
    expect(collector).toMatch(/endpoint: jaeger:4317/);
    expect(collector).toMatch(/endpoint: http:\/\/dashboard:3000\n\s+encoding: json/);
    expect(collector).toMatch(/authorization: Bearer \$\{env:TRACE_INGEST_TOKEN\}/);
    expect(services['otel-collector']!.environment?.TRACE_INGEST_TOKEN).toBe(services.dashboard!.environment?.TRACE_INGEST_TOKEN);
  });

  it('mounts only files that exist', () => {
    const sources = Object.values(services).flatMap((s) =>
      (s.volumes ?? [])
        .map((v) => (typeof v === 'string' ? v.split(':')[0]! : v.type === 'bind' ? v.source : ''))
        .filter((p) => p.startsWith('/')),
    );
    expect(sources.length).toBeGreaterThan(8);
    for (const source of sources) expect(existsSync(source), source).toBe(true);
  });

  it('pins a Redis image patched for CVE-2025-49844 (7.4.6 or later in the 7.4 line)', () => {
    for (const name of ['redis-primary', 'redis-replica', 'redis-cache', 'sentinel-1']) {
      const [, minor, patch] = /^redis:7\.(\d+)\.(\d+)/.exec(services[name]!.image ?? '') ?? [];
      expect(Number(minor) > 4 || (Number(minor) === 4 && Number(patch) >= 6), services[name]!.image).toBe(true);
    }
  });

  it('keeps coordination data un-evictable and durable, and lets the cache evict', () => {
    const redisConf = readFileSync(join(root, 'infra/redis/redis.conf'), 'utf8');
    expect(redisConf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(redisConf).toMatch(/^appendonly yes$/m);
    expect(readFileSync(join(root, 'infra/redis/cache.conf'), 'utf8')).toMatch(/^maxmemory-policy allkeys-lru$/m);
  });
});

describe('infra/postgres/init.sh on a real Postgres', () => {
  it('creates one role per service that owns and reaches only its own database, none a superuser', async () => {
    const server = await startEmbeddedPostgres();
    try {
      const admin = new URL(server.url);
      const passwords = {
        CATALOG_DB_PASSWORD: 'catalog-pw-x1',
        ORDER_DB_PASSWORD: 'orders-pw-x2',
        NOTIFIER_DB_PASSWORD: 'notifier-pw-x3',
      };
      // As the postgres image runs it: the superuser's credentials and the roles' passwords in the environment.
      await run('sh', [join(root, 'infra/postgres/init.sh')], {
        env: {
          PATH: process.env.PATH,
          POSTGRES_USER: admin.username,
          PGPASSWORD: admin.password,
          PGHOST: admin.hostname,
          PGPORT: admin.port,
          ...passwords,
        },
      });
      const as = (role: string, password: string, database: string) =>
        new pg.Client({ host: admin.hostname, port: Number(admin.port), user: role, password, database });
      for (const [role, password, own, other] of [
        ['catalog', passwords.CATALOG_DB_PASSWORD, 'catalog', 'orders'],
        ['orders', passwords.ORDER_DB_PASSWORD, 'orders', 'notifier'],
        ['notifier', passwords.NOTIFIER_DB_PASSWORD, 'notifier', 'catalog'],
      ] as const) {
        const client = as(role, password, own);
        await client.connect();
        try {
          // Migrations run as the service's role: it may create its tables.
          await client.query('CREATE TABLE migrations_probe (x int)');
          expect((await client.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper).toBe(false);
        } finally {
          await client.end();
        }
        const intruder = as(role, password, other);
        await expect(intruder.connect()).rejects.toThrow(/permission denied for database/);
        await intruder.end().catch(() => {});
      }
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('Grafana dashboard', () => {
  it('parses, and every query uses a metric the code exports', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'infra/grafana/dashboards/storefront.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const metrics = new Set(exprs.flatMap((e) => [...e.matchAll(/([a-z_]+)(?:_bucket|_count)?[{[(]/g)].map((m) => m[1]!)));
    const known = [
      'http_request_duration_seconds',
      'cache_requests_total',
      'lock_wait_seconds',
      'lock_contention_total',
      'outbox_pending',
      'notifications_total',
      'circuit_breaker_state',
      'registry_instances',
    ];
    for (const metric of known) expect(exprs.join(' ')).toContain(metric);
    expect(metrics.size).toBeGreaterThan(0);
  });
});

describe('docker-compose.tls.yml (Redis over TLS, one switch)', () => {
  const REDIS_NODES = ['redis-primary', 'redis-replica', 'redis-cache'];
  const SENTINELS = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
  let tls: Record<string, ComposeService>;
  let tlsDir: string;
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'storefront-compose-tls-'));
    tlsDir = join(work, 'tls');
    // What a user runs once: `pnpm tls:certs`.
    const { stdout } = await run(process.execPath, [join(root, 'demo/dist/tls-certs.js'), tlsDir]);
    expect(stdout).toContain('docker-compose.tls.yml');
    await writeFile(join(work, '.env'), generatedEnv);
    tls = await resolve(join(work, '.env'), tlsDir);
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  const mounts = (s: ComposeService) =>
    (s.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0]!, target: v.split(':')[1]! } : v));

  it('makes a certificate for every name a service reaches Redis by, and keeps no CA key', async () => {
    const cert = new X509Certificate(readFileSync(join(tlsDir, 'redis.crt')));
    for (const name of [...REDIS_NODES, ...SENTINELS]) expect(cert.subjectAltName).toContain(`DNS:${name}`);
    expect(cert.verify(new X509Certificate(readFileSync(join(tlsDir, 'ca.crt'))).publicKey)).toBe(true);
    expect(existsSync(join(tlsDir, 'ca.key'))).toBe(false);
    expect(statSync(join(tlsDir, 'redis.key')).mode & 0o077).toBe(0);
    // A second run refuses to overwrite the set.
    await expect(run(process.execPath, [join(root, 'demo/dist/tls-certs.js'), tlsDir])).rejects.toThrow(/already holds/);
  });

  it.each([...REDIS_NODES, ...SENTINELS])('%s: TLS on, the certificates mounted, its health check over TLS', (name) => {
    const service = tls[name]!;
    expect(service.environment?.REDIS_TLS).toBe('on');
    expect(mounts(service)).toContainEqual(expect.objectContaining({ source: tlsDir, target: '/etc/storefront/tls' }));
    expect(service.healthcheck?.test.join(' ')).toContain('--tls --cacert /etc/storefront/tls/ca.crt');
    // Everything of the plaintext deployment is still there (the overlay adds, it does not replace).
    expect(mounts(service).length).toBe(mounts(services[name]!).length + 1);
  });

  it.each(APPS)(
    '%s: connects with rediss:// to every Redis, verifies against the mounted CA, and passes its config validation',
    async (name) => {
      const service = tls[name]!;
      const env = service.environment ?? {};
      expect(env.REDIS_URL).toMatch(/^rediss:\/\//);
      if (env.REDIS_CACHE_URL) expect(env.REDIS_CACHE_URL).toMatch(/^rediss:\/\//);
      expect(new URL(env.REDIS_URL!).username).toBe(new URL(services[name]!.environment!.REDIS_URL!).username);
      expect(env.REDIS_TLS_CA_FILE).toBe('/etc/storefront/tls/ca.crt');
      expect(mounts(service)).toContainEqual(
        expect.objectContaining({ source: join(tlsDir, 'ca.crt'), target: '/etc/storefront/tls/ca.crt' }),
      );
      // Not the key: a service holds only the CA certificate.
      expect(mounts(service).some((m) => m.source.endsWith('redis.key'))).toBe(false);
      const load = await loaders[service.build?.args?.SERVICE ?? '']!();
      expect(() => load({ ...env, REDIS_TLS_CA_FILE: join(tlsDir, 'ca.crt') })).not.toThrow();
    },
  );
});

import { spawnSync } from 'node:child_process';
import { createShopCredentials, createTestDatabase, startServiceProcess, type TestDatabase } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serviceEntry } from './paths.js';

const SERVICES = ['catalog', 'order', 'notifier'] as const;

describe('order process', () => {
  it('refuses to start when its timeouts do not nest, naming the variables', () => {
    const result = spawnSync(process.execPath, [serviceEntry('order')], {
      // A reservation that gives up before catalog's lock wait could leave its outcome unknown.
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: 'postgres://x@127.0.0.1/x',
        STOCK_LOCK_WAIT: '10s',
        RESERVATION_TIMEOUT: '5s',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^order: Invalid configuration: RESERVATION_TIMEOUT must be longer than STOCK_LOCK_WAIT/);
  });

  it('refuses the placeholder secrets of .env.example, naming the variable and not its value', () => {
    const result = spawnSync(process.execPath, [serviceEntry('order')], {
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://order:change-me-order-db@127.0.0.1/orders' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^order: Invalid configuration: DATABASE_URL still holds the placeholder from \.env\.example/);
    expect(result.stderr).not.toContain('change-me-order-db');
  });
});

describe.each(SERVICES)('%s process', (service) => {
  let db: TestDatabase;
  let credentials: Awaited<ReturnType<typeof createShopCredentials>>;
  beforeAll(async () => {
    credentials = await createShopCredentials();
    db = await createTestDatabase(inject('postgresUrl'), service);
  });
  afterAll(() => db?.drop());

  it('exits 1 with a one-line reason naming a bad tracing variable', () => {
    const result = spawnSync(process.execPath, [serviceEntry(service)], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, OTEL_TRACES_SAMPLER: 'sometimes' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${service}: Invalid configuration: OTEL_TRACES_SAMPLER: `));
  });

  it('exits 1 with a one-line reason naming a bad env value', () => {
    const result = spawnSync(process.execPath, [serviceEntry(service)], {
      env: { PATH: process.env.PATH, PORT: 'eighty', DATABASE_URL: db.url },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${service}: Invalid configuration: PORT `));
  });

  it('exits 1 naming REDIS_TLS_CA_FILE and its path when the CA file cannot be read', () => {
    const result = spawnSync(process.execPath, [serviceEntry(service)], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        REDIS_URL: 'rediss://127.0.0.1:6380',
        REDIS_TLS_CA_FILE: '/nonexistent/ca.crt',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${service}: Invalid configuration: REDIS_TLS_CA_FILE.*cannot read /nonexistent/ca\\.crt: ENOENT`),
    );
  });

  it('serves health and metrics, then drains and exits 0 on SIGTERM', async () => {
    const proc = await startServiceProcess({
      entry: serviceEntry(service),
      env: {
        PORT: '0',
        DATABASE_URL: db.url,
        REDIS_URL: inject('redisUrl'),
        ...credentials.env[service],
        LOG_LEVEL: 'info',
      },
    });
    const ready = await fetch(`${proc.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: object }).checks).toMatchObject({ database: 'ok', redis: 'ok' });
    expect(await (await fetch(`${proc.baseUrl}/metrics`)).text()).toContain(`service="${service}"`);
    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(proc.logs.some((l) => l.msg === 'shutdown complete')).toBe(true);
  });

  it('exits 1 naming the identity keys when it has none', () => {
    const result = spawnSync(process.execPath, [serviceEntry(service)], {
      env: { PATH: process.env.PATH, PORT: '0', DATABASE_URL: db.url, REDIS_URL: inject('redisUrl') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/AUTH_JWKS or AUTH_JWKS_URL|SERVICE_SIGNING_KEY/);
  });
});

describe.each(['order', 'notifier'] as const)('%s process without field keys', (service) => {
  let db: TestDatabase;
  let credentials: Awaited<ReturnType<typeof createShopCredentials>>;
  beforeAll(async () => {
    credentials = await createShopCredentials();
    db = await createTestDatabase(inject('postgresUrl'), `${service}_nokeys`);
  });
  afterAll(() => db?.drop());

  const start = (keys: string | undefined) => {
    const { FIELD_ENCRYPTION_KEYS: _, ...identity } = credentials.env[service];
    return spawnSync(process.execPath, [serviceEntry(service)], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        DATABASE_URL: db.url,
        REDIS_URL: inject('redisUrl'),
        ...identity,
        ...(keys === undefined ? {} : { FIELD_ENCRYPTION_KEYS: keys }),
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
  };

  it('exits 1 naming FIELD_ENCRYPTION_KEYS when it has none', () => {
    const result = start(undefined);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${service}: Invalid configuration: ${service} needs FIELD_ENCRYPTION_KEYS`));
  });

  it('exits 1 naming FIELD_ENCRYPTION_KEYS when a key is not 32 bytes, without printing it', () => {
    const result = start('k1:c2hvcnQ=');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${service}: Invalid configuration: FIELD_ENCRYPTION_KEYS`));
    expect(result.stderr).not.toContain('c2hvcnQ=');
  });
});

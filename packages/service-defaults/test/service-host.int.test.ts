import { createRedis, EvictionPolicyError, type RedisClient } from '@storefront/redis-kit';
import { createTestDatabase, startRedisServer, type TestDatabase, waitFor } from '@storefront/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ServiceConfig, serviceEnv } from '../src/service-env.js';
import { ServiceHost } from '../src/service-host.js';

let db: TestDatabase;
let admin: RedisClient;
beforeAll(async () => {
  db = await createTestDatabase(inject('postgresUrl'), 'host');
  admin = createRedis({ url: inject('redisUrl') });
});
afterAll(async () => {
  admin?.disconnect();
  await db?.drop();
});

const hostFor = (redisUrl: string, service = `svc${Math.random().toString(36).slice(2, 8)}`) =>
  new ServiceHost<ServiceConfig>({
    service,
    config: serviceEnv.parse({ PORT: '0', REDIS_URL: redisUrl, REGISTRY_TTL_MS: '1000' }),
    logger: pino({ level: 'silent' }),
  });
const clientsNamed = async (prefix: string) =>
  String(await admin.client('LIST'))
    .split('\n')
    .filter((line) => line.includes(` name=${prefix}`));

describe('ServiceHost', () => {
  it('refuses a coordination Redis that may evict keys', async () => {
    const evicting = await startRedisServer({ config: ['maxmemory-policy allkeys-lru'] });
    const host = hostFor(evicting.url);
    try {
      await expect(host.redis()).rejects.toThrow(EvictionPolicyError);
    } finally {
      await host.close();
      await evicting.stop();
    }
  });

  it('gives each resource its readiness check and shutdown step, and closes everything it opened', async () => {
    const host = hostFor(inject('redisUrl'));
    await host.redis();
    await host.database(db.url, [{ id: '001_t', sql: 'CREATE TABLE t (id int)' }]);
    host.queue('host-test-queue');
    host.worker('host-test-queue', async () => undefined);
    await host.events();
    await host.discovery('someone-else');
    host.joinRegistry();
    expect(await clientsNamed(host.instanceId)).not.toHaveLength(0);

    // Registered only once listening: until then readiness says why it is not ready.
    expect(await host.health.readiness()).toMatchObject({
      ready: false,
      checks: { redis: 'ok', database: 'ok', registry: 'registry heartbeat is not fresh' },
    });
    await host.listening(45678);
    expect(await host.health.readiness()).toMatchObject({ ready: true });
    expect(await admin.exists(`registry:{${host.service}}:instance:${host.instanceId}`)).toBe(1);

    expect(await host.close()).toBe(true);
    expect((await host.health.readiness()).ready).toBe(false);
    expect(await admin.exists(`registry:{${host.service}}:instance:${host.instanceId}`)).toBe(0);
    expect(await clientsNamed(host.instanceId)).toEqual([]);
  });
});

describe('ServiceHost worker watchdog', () => {
  const stallHost = (env: Record<string, string> = {}) =>
    new ServiceHost<ServiceConfig>({
      service: `wd${Math.random().toString(36).slice(2, 8)}`,
      config: serviceEnv.parse({
        PORT: '0',
        REDIS_URL: inject('redisUrl'),
        WORKER_STALL_TIMEOUT: '600ms',
        SHUTDOWN_TIMEOUT_MS: '1000',
        ...env,
      }),
      logger: pino({ level: 'silent' }),
    });

  it('fails readiness for a worker that stopped finishing jobs, restarts it, and the jobs get done', async () => {
    const host = stallHost();
    const name = `wd-stall-${Math.random().toString(36).slice(2, 8)}`;
    const done: number[] = [];
    let hung = false;
    // Concurrency 1 and a first job that never ends: running, no error, processing nothing.
    const worker = host.worker<{ n: number }>(
      name,
      async (job) => {
        if (!hung) {
          hung = true;
          return new Promise(() => {});
        }
        done.push(job.data.n);
      },
      { concurrency: 1 },
    );
    // A listener on the worker the host returned must hear the jobs the replacement finishes.
    const heard: number[] = [];
    worker.on('completed', (job) => heard.push(job.data.n));
    try {
      const queue = host.queue<{ n: number }>(name);
      for (let n = 1; n <= 4; n++) await queue.add('job', { n });
      await waitFor(async () => (await host.health.readiness()).checks[`worker:${name}`]?.startsWith('worker stalled') === true, {
        description: 'readiness to report the stall',
      });
      // The watchdog's new worker does the waiting jobs; the stuck one is the old worker's, force-closed.
      await waitFor(() => done.length === 3, { timeoutMs: 10_000, description: 'the waiting jobs done by the new worker' });
      expect(done.sort()).toEqual([2, 3, 4]);
      await waitFor(() => heard.length === 3, { description: 'the carried-over listener to hear them' });
      await waitFor(async () => (await host.health.readiness()).checks[`worker:${name}`] === 'ok', {
        description: 'ready again',
      });
      expect(await host.metrics.registry.metrics()).toMatch(
        new RegExp(`worker_restarted_total\\{[^}]*queue="${name}"[^}]*\\} 1`),
      );
      expect(host.health.unrecoverable).toBeUndefined();
    } finally {
      await host.close();
    }
  });

  it('fails liveness when the restarted worker stalls too', async () => {
    const host = stallHost();
    const name = `wd-dead-${Math.random().toString(36).slice(2, 8)}`;
    host.worker(name, () => new Promise(() => {}), { concurrency: 1 });
    const told: string[] = [];
    host.health.onUnrecoverable((reason) => told.push(reason));
    try {
      const queue = host.queue(name);
      for (let n = 1; n <= 3; n++) await queue.add('job', { n });
      await waitFor(() => host.health.unrecoverable !== undefined, { timeoutMs: 10_000, description: 'liveness to fail' });
      expect(host.health.unrecoverable).toMatch(/stalled again after a restart/);
      expect(told).toEqual([host.health.unrecoverable]);
    } finally {
      await host.close();
    }
  });

  it('leaves an idle worker (nothing waiting) alone', async () => {
    const host = stallHost();
    const name = `wd-idle-${Math.random().toString(36).slice(2, 8)}`;
    host.worker(name, async () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 1500)); // more than two stall timeouts with nothing to do
      expect((await host.health.readiness()).checks[`worker:${name}`]).toBe('ok');
      expect(await host.metrics.registry.metrics()).not.toMatch(/worker_restarted_total\{[^}]*\} [1-9]/);
    } finally {
      await host.close();
    }
  });
});

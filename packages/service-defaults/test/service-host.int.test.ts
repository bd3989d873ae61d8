import { createRedis, EvictionPolicyError, type RedisClient } from '@storefront/redis-kit';
import { createTestDatabase, startRedisServer, type TestDatabase } from '@storefront/testing';
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

import { fileURLToPath } from 'node:url';
import { type RedisProcess, runNodeProcesses, startRedisServer } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { DataLossMarker } from '../src/data-loss/data-loss-marker.js';

/** A private server: the tests restart it empty and from its AOF, and flush it. */
let server: RedisProcess;
const opened: RedisClient[] = [];
const connect = () => {
  const c = createRedis({ url: server.adminUrl }, { commandTimeoutMs: 500 });
  c.on('error', () => {});
  opened.push(c);
  return c;
};
beforeAll(async () => {
  server = await startRedisServer({ config: ['appendonly yes'] });
});
afterAll(async () => {
  for (const c of opened) c.disconnect();
  await server?.stop();
});
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const KEY = 'svc:redis-marker';

describe('DataLossMarker', () => {
  it('is missing on a new Redis, present after, missing again once Redis lost its data, and not after a restart that kept it', async () => {
    const registry = new Registry();
    const redis = connect();
    const marker = new DataLossMarker(redis, { name: 'svc', key: KEY, owner: 'svc-1', registry });
    expect(await marker.check()).toBe('missing');
    expect(await redis.get(KEY)).toMatch(/^svc-1 \d{4}-\d\d-\d\dT/);
    expect(await redis.pttl(KEY)).toBe(-1);
    expect(await marker.check()).toBe('present');

    // Restarted from its AOF: the data is there, nothing to report.
    server = await server.restart();
    const afterAof = new DataLossMarker(connect(), { name: 'svc', key: KEY, owner: 'svc-1', registry });
    expect(await afterAof.check()).toBe('present');

    // Replaced by an empty server on the same port: the same client notices.
    server = await server.restart({ empty: true });
    const afterEmpty = new DataLossMarker(connect(), { name: 'svc', key: KEY, owner: 'svc-1', registry });
    expect(await afterEmpty.check()).toBe('missing');
    expect(await afterEmpty.check()).toBe('present');

    // An operator's FLUSHALL is a loss as well.
    await redis.flushall();
    expect(await marker.check()).toBe('missing');

    const metric = await registry.getSingleMetricAsString('redis_data_loss_checks_total');
    expect(metric).toContain('redis_data_loss_checks_total{marker="svc",outcome="missing"} 3');
    expect(metric).toContain('redis_data_loss_checks_total{marker="svc",outcome="present"} 3');
  }, 30_000);

  it('tells exactly one of 4 processes checking at the same moment that the data is gone', async () => {
    const redis = connect();
    await redis.flushall();
    const barrier = `svc:barrier:${Date.now()}`;
    const runs = await runNodeProcesses(4, fixture('loss-checker.mjs'), [server.adminUrl, KEY, '4', barrier]);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const outcomes = runs.map((r) => (JSON.parse(r.stdout) as { outcome: string }).outcome).sort();
    expect(outcomes).toEqual(['missing', 'present', 'present', 'present']);
  }, 30_000);

  it('rejects fast while Redis does not answer, counting the failed check, and reports the loss once it is replaced empty', async () => {
    const registry = new Registry();
    const redis = connect();
    const marker = new DataLossMarker(redis, { name: 'hung', key: KEY, owner: 'svc-2', registry });
    await marker.check();
    process.kill(server.pid, 'SIGSTOP');
    const started = Date.now();
    try {
      await expect(marker.check()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      // Still frozen, the server is replaced by an empty one: the check that timed out is
      // unanswered on the old connection, and must not be written into the new server.
      server = await server.restart({ empty: true });
    }
    expect(await registry.getSingleMetricAsString('redis_data_loss_checks_total')).toContain(
      'redis_data_loss_checks_total{marker="hung",outcome="failed"} 1',
    );
    // The old client is back (anything it re-sent went before this PING), and the loss shows.
    expect(await redis.ping()).toBe('PONG');
    expect(await new DataLossMarker(connect(), { name: 'hung', key: KEY, owner: 'svc-2' }).check()).toBe('missing');
  }, 30_000);
});

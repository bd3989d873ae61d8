import { startRedisServer, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { RateLimiter } from '../src/rate-limit/rate-limiter.js';

const opened: RedisClient[] = [];
const connect = (url = inject('redisUrl')) => {
  const c = createRedis({ url });
  c.on('error', () => {});
  opened.push(c);
  return c;
};
afterAll(() => {
  for (const c of opened) c.disconnect();
});
const unique = () => `rl${Math.random().toString(36).slice(2, 8)}`;

describe('RateLimiter', () => {
  it('shares one budget across instances with their own connections', async () => {
    const name = unique();
    const clients = [connect(), connect(), connect()];
    // Until a connection is ready, the in-memory fallback decides; this test is about the shared budget.
    await waitFor(() => clients.every((c) => c.status === 'ready'), { description: 'connections ready' });
    const limiters = clients.map((c) => new RateLimiter(c, { name, points: 10, durationSeconds: 60 }));
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => limiters[i % 3]!.consume('customer-1')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    const rejected = decisions.find((d) => !d.allowed)!;
    expect(rejected.backend).toBe('redis');
    expect(rejected.retryAfterMs).toBeGreaterThan(0);
    expect(rejected.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect((await limiters[0]!.consume('customer-2')).allowed).toBe(true);
  });

  it('keeps limiting from memory while Redis is down, then returns to Redis', async () => {
    const server = await startRedisServer();
    const registry = new Registry();
    const redis = connect(server.url);
    await waitFor(() => redis.status === 'ready', { description: 'connected' });
    const limiter = new RateLimiter(redis, { name: unique(), points: 3, durationSeconds: 60, registry });
    expect((await limiter.consume('c')).backend).toBe('redis');
    await server.stop('SIGKILL');
    await waitFor(() => redis.status !== 'ready', { description: 'disconnect noticed' });
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await limiter.consume('c'));
    expect(during.every((d) => d.backend === 'memory')).toBe(true);
    expect(during.filter((d) => d.allowed)).toHaveLength(3);
    expect(await registry.metrics()).toMatch(/rate_limit_rejections_total\{limiter="\w+",backend="memory"\} 2/);
    const restarted = await startRedisServer({ port: server.port });
    try {
      await waitFor(() => redis.status === 'ready', { timeoutMs: 15_000, description: 'reconnect' });
      expect((await limiter.consume('c')).backend).toBe('redis');
    } finally {
      await restarted.stop();
    }
  });
});

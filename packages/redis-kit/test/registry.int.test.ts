import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { lineReader, startRedisServer, track, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { Discovery, NoInstanceError } from '../src/registry/discovery.js';
import { InstanceIdTakenError, ServiceRegistration } from '../src/registry/service-registration.js';

const fixture = fileURLToPath(new URL('./fixtures/registry-member.mjs', import.meta.url));
const uniqueService = () => `svc${Math.random().toString(36).slice(2, 8)}`;
const record = (service: string, instanceId: string, port = 1) => ({
  service,
  instanceId,
  host: '127.0.0.1',
  port,
  startedAt: new Date().toISOString(),
});

const member = async (service: string, instanceId: string, ttlMs: number, blockMs = 0) => {
  const child = track(
    spawn(process.execPath, [fixture, inject('redisUrl'), service, instanceId, String(ttlMs), String(blockMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await lineReader(child.stdout!).nextJson();
  return child;
};

let redis: RedisClient;
let subscriber: RedisClient;
beforeAll(() => {
  redis = createRedis({ url: inject('redisUrl') });
  subscriber = createRedis({ url: inject('redisUrl') }, { role: 'subscriber' });
});
afterAll(async () => {
  await Promise.all([redis.quit(), subscriber.quit()]);
});

describe('ServiceRegistration + Discovery', () => {
  it('hears a join and a graceful leave at once, without waiting for a poll', async () => {
    const service = uniqueService();
    // Polling every minute: only pub/sub can explain a prompt update.
    const discovery = new Discovery(redis, subscriber, service, { refreshMs: 60_000 });
    await discovery.start();
    try {
      expect(discovery.instances()).toEqual([]);
      const registration = new ServiceRegistration(redis, record(service, 'a'), { ttlMs: 5000 });
      await registration.start();
      await waitFor(() => discovery.instances().length === 1, { timeoutMs: 500, description: 'join' });
      expect(discovery.instances()[0]).toMatchObject({ instanceId: 'a', port: 1 });
      await registration.stop();
      await waitFor(() => discovery.instances().length === 0, { timeoutMs: 500, description: 'leave' });
    } finally {
      await discovery.stop();
    }
  });

  it('refuses a second live instance with the same id', async () => {
    const service = uniqueService();
    const first = new ServiceRegistration(redis, record(service, 'same', 1));
    await first.start();
    await expect(new ServiceRegistration(redis, record(service, 'same', 2)).start()).rejects.toThrow(InstanceIdTakenError);
    await first.stop();
  });

  it('drops a SIGKILLed instance within its TTL', async () => {
    const service = uniqueService();
    const ttlMs = 1000;
    const discovery = new Discovery(redis, subscriber, service, { refreshMs: 200 });
    await discovery.start();
    try {
      const child = await member(service, 'doomed', ttlMs);
      await waitFor(() => discovery.instances().length === 1, { description: 'member to appear' });
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await once(child, 'exit');
      await waitFor(() => discovery.instances().length === 0, {
        timeoutMs: 5000,
        intervalMs: 10,
        description: 'member to expire',
      });
      // Its last heartbeat was before the kill, so it must be gone by kill + ttl; the slack
      // covers this test's 10 ms sampling and a loaded machine's scheduling, not the registry.
      expect(Date.now() - killedAt).toBeLessThanOrEqual(ttlMs + 100);
    } finally {
      await discovery.stop();
    }
  });

  it('does not flap when heartbeats are late but within the TTL', async () => {
    const service = uniqueService();
    const discovery = new Discovery(redis, subscriber, service, { refreshMs: 50 });
    await discovery.start();
    const changes: number[] = [];
    discovery.on('change', (list) => changes.push(list.length));
    // TTL 900 ms, heartbeat every 300 ms, event loop blocked 450 ms every second.
    const child = await member(service, 'slow', 900, 450);
    try {
      await waitFor(() => discovery.instances().length === 1, { description: 'member to appear' });
      let missing = 0;
      const until = Date.now() + 3500;
      while (Date.now() < until) {
        if (discovery.instances().length !== 1) missing++;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(missing).toBe(0);
      expect(changes).toEqual([1]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await discovery.stop();
    }
  }, 15_000);

  it('picks round-robin and avoids an instance reported failed', async () => {
    const service = uniqueService();
    const regs = ['a', 'b', 'c'].map((id, i) => new ServiceRegistration(redis, record(service, id, i + 1)));
    await Promise.all(regs.map((r) => r.start()));
    const discovery = new Discovery(redis, undefined, service);
    await discovery.start();
    try {
      const picks = Array.from({ length: 6 }, () => discovery.pick().instanceId);
      expect(new Set(picks)).toEqual(new Set(['a', 'b', 'c']));
      expect(picks.filter((p) => p === 'a')).toHaveLength(2);
      discovery.reportFailure('b');
      const after = Array.from({ length: 6 }, () => discovery.pick().instanceId);
      expect(after).not.toContain('b');
    } finally {
      await discovery.stop();
      await Promise.all(regs.map((r) => r.stop()));
    }
    await discovery.refresh();
    expect(() => discovery.pick()).toThrow(NoInstanceError);
  });

  it('re-registers by itself after FLUSHALL, and reports the instance count', async () => {
    const server = await startRedisServer();
    const own = createRedis({ url: server.url });
    const registry = new Registry();
    try {
      const registration = new ServiceRegistration(own, record('catalog', 'x'), { ttlMs: 600, registry });
      await registration.start();
      const discovery = new Discovery(own, undefined, 'catalog', { refreshMs: 50, registry });
      await discovery.start();
      expect(discovery.instances()).toHaveLength(1);
      await own.flushall();
      expect(await own.exists('registry:{catalog}:instance:x')).toBe(0);
      await waitFor(async () => (await own.exists('registry:{catalog}:instance:x')) === 1, {
        timeoutMs: 1000,
        description: 're-registration',
      });
      expect(await registry.metrics()).toMatch(/registry_heartbeats_total\{outcome="reregistered"\} 1/);
      await waitFor(() => discovery.instances().length === 1, { description: 'discovery to see it again' });
      expect(await registry.metrics()).toMatch(/registry_instances\{registered_service="catalog"\} 1/);
      await discovery.stop();
      await registration.stop();
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});

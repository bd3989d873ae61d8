import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRedis, type RedisClient, TwoTierCache } from '@storefront/redis-kit';
import { lineReader, stopChild, track } from '@storefront/testing';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { percentile } from './stats.js';

const peerScript = fileURLToPath(new URL('./cache-peer.js', import.meta.url));

/** 50 concurrent requests for a cold key, over 5 instances with their own connections: origin loads per key. */
export const coldKey = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const clients: RedisClient[] = [];
  const caches = Array.from({ length: 5 }, () => {
    const c = createRedis({ url: env.redis.url });
    clients.push(c);
    return new TwoTierCache<{ n: number }>(c, undefined, { namespace: 'bench-cold' });
  });
  const keys = budget.quick ? 5 : 20;
  const loadsPerKey: number[] = [];
  const fills: number[] = [];
  for (let k = 0; k < keys; k++) {
    let loads = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        caches[i % 5]!.getOrLoad(`key-${k}`, async () => {
          loads++;
          await new Promise((r) => setTimeout(r, 20)); // a 20 ms origin
          return { value: { n: k }, version: 1 };
        }),
      ),
    );
    fills.push(performance.now() - started);
    loadsPerKey.push(loads);
  }
  for (const c of clients) c.disconnect();
  const max = Math.max(...loadsPerKey);
  budget.log(`  cold keys: ${keys} keys × 50 requests → max ${max} origin load(s) per key`);
  return [
    {
      name: 'cold key, 50 concurrent requests',
      measured: `${max} origin load(s) per key over ${keys} keys; all 50 answered in p50 ${percentile(fills, 50).toFixed(1)} ms`,
      ceiling: '—',
      ratio: null,
      goal: 'exactly 1 origin load',
      met: max === 1,
      correct: loadsPerKey.every((n) => n === 1),
    },
  ];
};

/**
 * Invalidation latency: a cache write in this process until every one of 3 other
 * processes dropped its L1 copy and said so, against the same round trip over raw
 * pub/sub (publish → each peer replies). Samples alternate raw / cache.
 */
export const invalidation = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const namespace = `inv${Date.now()}`;
  const peers = await Promise.all(
    ['a', 'b', 'c'].map(async (id) => {
      const child = track(
        spawn(process.execPath, [peerScript, env.redis.url, namespace, id], { stdio: ['ignore', 'pipe', 'inherit'] }),
      );
      await lineReader(child.stdout!).nextJson();
      return child;
    }),
  );
  const redis = createRedis({ url: env.redis.url });
  const acks = createRedis({ url: env.redis.url }, { role: 'subscriber' });
  const writer = new TwoTierCache<{ v: number }>(redis, undefined, { namespace });
  await acks.subscribe(`bench:${namespace}:ack`);
  let pending = 0;
  let done: () => void = () => {};
  acks.on('message', () => {
    if (--pending === 0) done();
  });
  const roundTrip = (send: () => Promise<unknown>) =>
    new Promise<number>((resolve) => {
      const started = performance.now();
      pending = 3;
      done = () => resolve(performance.now() - started);
      void send();
    });
  const raw: number[] = [];
  const cache: number[] = [];
  const samples = budget.quick ? 100 : 1000;
  for (let i = 0; i < samples; i++) {
    raw.push(await roundTrip(() => redis.publish(`bench:${namespace}:ping`, String(i))));
    cache.push(await roundTrip(() => writer.set('k', { v: i + 1 }, i + 1)));
  }
  await Promise.all(peers.map((p) => stopChild(p)));
  acks.disconnect();
  redis.disconnect();
  const [rawP99, cacheP99] = [percentile(raw.slice(10), 99), percentile(cache.slice(10), 99)];
  budget.log(`  invalidation: cache p99 ${cacheP99.toFixed(3)} ms vs raw pub/sub ${rawP99.toFixed(3)} ms`);
  return [
    {
      name: 'invalidation → L1 evicted in 3 other processes',
      measured: `p50 ${percentile(cache, 50).toFixed(3)} ms, p99 ${cacheP99.toFixed(3)} ms`,
      ceiling: `raw pub/sub round trip p99 ${rawP99.toFixed(3)} ms`,
      ratio: cacheP99 / rawP99,
      goal: 'p99 <= 2x, under 1 ms',
      met: cacheP99 <= 2 * rawP99 && cacheP99 < 1,
      correct: true,
      note: `${samples} samples each, alternating; the first 10 dropped as warm-up`,
    },
  ];
};

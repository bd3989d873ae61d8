import { adminCommand, waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, type Stack, startStack } from './stack.js';

/**
 * Catalog with `REDIS_CACHE_READ_FROM=replica` on the running shop over Sentinel (L1 off, so
 * every cached read is an L2 read): product reads are answered from the replica, a price change
 * made through one instance is what the other serves next, and reads go on after the primary
 * fails over.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    redis: 'sentinel',
    env: { catalog: { REDIS_CACHE_READ_FROM: 'replica', CACHE_L1_TTL_MS: '0' } },
  });
}, 120_000);
afterAll(() => stack?.stop());

/** `GET`s the node on `port` has served (INFO commandstats). */
const gets = async (port: number) =>
  Number(/cmdstat_get:calls=(\d+)/.exec(String(await adminCommand(port, 'INFO', 'commandstats')))?.[1] ?? 0);

describe('catalog reading its cache from the replica (Sentinel)', () => {
  it('answers product reads from the replica; a price change through one instance is what the other serves next', async () => {
    const sentinel = stack.sentinel!;
    await stack.createProduct('rr-a', 10, 1000);
    await get(`${stack.catalog[0]!.baseUrl}/products/rr-a`); // the load writes L2 on the primary
    await waitFor(async () => (await adminCommand(sentinel.replica.port, 'EXISTS', 'catalog:product:rr-a')) === 1, {
      description: 'the entry replicated',
    });
    const before = await gets(sentinel.replica.port);
    for (let i = 0; i < 20; i++) {
      const res = await get(`${stack.catalog[i % 2]!.baseUrl}/products/rr-a`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('l2');
    }
    expect((await gets(sentinel.replica.port)) - before).toBeGreaterThanOrEqual(20);

    const patched = await fetch(`${stack.catalog[0]!.baseUrl}/products/rr-a`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` },
      body: JSON.stringify({ priceCents: 900 }),
    });
    expect(patched.status).toBe(200);
    // The other instance heard the invalidation: it never serves the old price again.
    await waitFor(async () => (await get(`${stack.catalog[1]!.baseUrl}/products/rr-a`)).body.priceCents === 900, {
      description: 'the new price on the other instance',
      timeoutMs: 5_000,
    });
    for (let i = 0; i < 10; i++) expect((await get(`${stack.catalog[i % 2]!.baseUrl}/products/rr-a`)).body.priceCents).toBe(900);
  });

  it('keeps answering product reads correctly when the primary fails over', async () => {
    const sentinel = stack.sentinel!;
    await sentinel.primary.stop('SIGKILL');
    await waitFor(async () => (await sentinel.currentPrimaryPort()) === sentinel.replica.port, {
      timeoutMs: 30_000,
      description: 'failover',
    });
    await waitFor(
      async () => {
        const answers = await Promise.all(stack.catalog.map((c) => get(`${c.baseUrl}/products/rr-a`)));
        return answers.every((a) => a.status === 200 && a.body.priceCents === 900);
      },
      { timeoutMs: 20_000, description: 'both instances serving the product after the failover' },
    );
    // No replica is left: the cache reads the primary at once, not after the command timeout
    // (750 ms) each time. A read caught in ioredis' own reconnect may still wait; the median may not.
    const took: number[] = [];
    for (let i = 0; i < 11; i++) {
      const started = Date.now();
      const res = await get(`${stack.catalog[i % 2]!.baseUrl}/products/rr-a`);
      took.push(Date.now() - started);
      expect(res.status).toBe(200);
      expect(res.body.priceCents).toBe(900);
    }
    expect(took.sort((a, b) => a - b)[5]).toBeLessThan(300);
  }, 60_000);
});

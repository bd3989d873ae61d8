import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';

/**
 * The whole shop with Redis speaking TLS only (no plaintext port): standalone, and a
 * Sentinel topology whose replication and Sentinels run over TLS too. The services connect
 * with `rediss://` URLs and `REDIS_TLS_CA_FILE`; orders, stock, notifications and rankings
 * work as on a plaintext Redis.
 */
describe.each(['standalone', 'sentinel'] as const)('the shop on Redis over TLS (%s)', (redis) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ redis, tls: true });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('has no plaintext port: the server listens for TLS only, and every service reached it', async () => {
    expect(await stack.redis.config('GET', 'port')).toEqual(['port', '0']);
    expect((await stack.redis.config('GET', 'tls-port'))[1]).toBe(String(stack.redisServer.port));
    for (const service of [...stack.catalog, ...stack.order, stack.notifier]) {
      const ready = await get(`${service.baseUrl}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toMatchObject({ redis: 'ok' });
    }
  });

  it('places, pays and notifies orders over TLS: stock exact, every order notified exactly once, ranked once', async () => {
    const product = `tls-${redis}`;
    await stack.createProduct(product, 100);
    const placed: { id: string; customer: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const customer = `tls-c${i}`;
      const res = await stack.placeOrder(i, customer, [{ productId: product, quantity: 2 }]);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      placed.push({ id: res.body.id as string, customer });
    }
    for (const [n, { id, customer }] of placed.slice(0, 6).entries()) {
      expect((await post(`${stack.order[n % 2]!.baseUrl}/orders/${id}/pay`, {}, await stack.auth(customer))).status).toBe(200);
    }
    expect(await stack.stockOf(product)).toBe(100 - 24);
    await waitFor(
      async () =>
        (await stack.count(
          'notifier',
          "SELECT count(DISTINCT order_id) AS n FROM notifications WHERE kind = 'order.placed' AND order_id = ANY($1)",
          [placed.map((p) => p.id)],
        )) === 12,
      { timeoutMs: 30_000, description: 'every order notified' },
    );
    expect(
      await stack.count(
        'notifier',
        "SELECT count(*) AS n FROM notifications WHERE kind IN ('order.placed', 'order.paid') AND order_id = ANY($1)",
        [placed.map((p) => p.id)],
      ),
    ).toBe(12 + 6);
    const rankings = await waitFor(
      async () => {
        const r = (await get(`${stack.catalog[0]!.baseUrl}/rankings?limit=50`)).body as {
          bestSelling: { productId: string; score: number }[];
        };
        return r.bestSelling.find((p) => p.productId === product)?.score === 24 ? r : undefined;
      },
      { timeoutMs: 10_000, description: 'the order units ranked' },
    );
    expect(rankings.bestSelling.find((p) => p.productId === product)?.score).toBe(24);
  }, 90_000);
});

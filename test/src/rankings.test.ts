import { keys } from '@storefront/contracts';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';

/**
 * Live rankings on the running shop: order's outbox relay records every order event in
 * sliding rankings (units per product, orders per minute by outcome), the notifier records
 * new watchers, and catalog serves them at `GET /rankings`. Events are relayed at least once;
 * the rankings must count each once.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { order: { ORDER_RATE_LIMIT_PER_MINUTE: '1000' } } });
}, 120_000);
afterAll(() => stack?.stop());

const PRODUCTS = ['rk-a', 'rk-b', 'rk-c'];

interface Rankings {
  windowMinutes: number;
  bestSelling: { productId: string; name: string | null; score: number }[];
  mostWatched: { productId: string; name: string | null; score: number }[];
  ordersPerMinute: { minute: string; placed: number; paid: number; cancelled: number; expired: number }[];
}

const rankings = async (query = ''): Promise<Rankings> => {
  const res = await get(`${stack.catalog[1]!.baseUrl}/rankings${query}`);
  expect(res.status).toBe(200);
  return res.body as Rankings;
};

const totals = (r: Rankings) =>
  r.ordersPerMinute.reduce(
    (sum, m) => ({ placed: sum.placed + m.placed, paid: sum.paid + m.paid, cancelled: sum.cancelled + m.cancelled }),
    { placed: 0, paid: 0, cancelled: 0 },
  );

/** What the order database says: units ordered per product, and orders by status. */
const truth = async () => {
  const units = await stack.count(
    'order',
    "SELECT coalesce(sum((i->>'quantity')::int), 0) AS n FROM orders o, jsonb_array_elements(o.items) i",
  );
  const perProduct: Record<string, number> = {};
  for (const id of PRODUCTS) {
    perProduct[id] = await stack.count(
      'order',
      "SELECT coalesce(sum((i->>'quantity')::int), 0) AS n FROM orders o, jsonb_array_elements(o.items) i WHERE i->>'productId' = $1",
      [id],
    );
  }
  return {
    units,
    perProduct,
    placed: await stack.count('order', 'SELECT count(*) AS n FROM orders'),
    paid: await stack.count('order', "SELECT count(*) AS n FROM orders WHERE status = 'paid'"),
    cancelled: await stack.count('order', "SELECT count(*) AS n FROM orders WHERE status = 'cancelled'"),
  };
};

const outboxDrained = async () =>
  (await stack.count('order', 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0;

/** `ranking_records_total` of `outcome` summed over the live order instances. */
const recorded = async (outcome: string): Promise<number> => {
  let sum = 0;
  for (const o of stack.order) {
    const text = await (await fetch(`${o.baseUrl}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('ranking_records_total{') && line.includes(`outcome="${outcome}"`))
        sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
};

describe('live rankings on the running shop', () => {
  it('ranks what was ordered and watched, and counts orders per minute, each event once even when the outbox relays it again', async () => {
    for (const id of PRODUCTS) await stack.createProduct(id, 10_000);
    // 40 orders from 8 customers on both order instances, 4 in flight at a time: rk-a in
    // every order (1 to 3 units), rk-b in every other one, rk-c in none.
    const placed: { id: string; customer: string }[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, j) => {
          const i = batch * 4 + j;
          const items = [{ productId: 'rk-a', quantity: 1 + (i % 3) }];
          if (i % 2 === 0) items.push({ productId: 'rk-b', quantity: 2 });
          return stack.placeOrder(i, `rk-c${i % 8}`, items).then((r) => ({ r, customer: `rk-c${i % 8}` }));
        }),
      );
      for (const { r, customer } of results) {
        expect(r.status).toBe(201);
        placed.push({ id: r.body.id as string, customer });
      }
    }
    // Pay ten, cancel five.
    for (const [n, { id, customer }] of placed.slice(0, 15).entries()) {
      const res = await post(
        `${stack.order[n % 2]!.baseUrl}/orders/${id}/${n < 10 ? 'pay' : 'cancel'}`,
        {},
        await stack.auth(customer),
      );
      expect(res.status).toBe(200);
    }
    // Five customers watch rk-c, two rk-b; one of them twice (the same as once).
    for (const [customer, productId] of [
      ['rk-w1', 'rk-c'],
      ['rk-w2', 'rk-c'],
      ['rk-w3', 'rk-c'],
      ['rk-w4', 'rk-c'],
      ['rk-w5', 'rk-c'],
      ['rk-w1', 'rk-b'],
      ['rk-w2', 'rk-b'],
      ['rk-w2', 'rk-b'],
    ] as const) {
      expect((await post(`${stack.notifier.baseUrl}/watches`, { productId }, await stack.auth(customer))).status).toBe(201);
    }
    await waitFor(outboxDrained, { description: 'outbox drained', timeoutMs: 30_000 });
    const expected = await truth();
    expect(expected).toMatchObject({ placed: 40, paid: 10, cancelled: 5 });

    const check = async () => {
      const r = await rankings();
      expect(r.windowMinutes).toBe(60);
      expect(r.ordersPerMinute).toHaveLength(60);
      expect(totals(r)).toEqual({ placed: 40, paid: 10, cancelled: 5 });
      expect(r.bestSelling).toEqual([
        { productId: 'rk-a', name: 'Product rk-a', score: expected.perProduct['rk-a'] },
        { productId: 'rk-b', name: 'Product rk-b', score: expected.perProduct['rk-b'] },
      ]);
      expect(r.bestSelling.reduce((s, p) => s + p.score, 0)).toBe(expected.units);
      expect(r.mostWatched).toEqual([
        { productId: 'rk-c', name: 'Product rk-c', score: 5 },
        { productId: 'rk-b', name: 'Product rk-b', score: 2 },
      ]);
    };
    await check();

    // A relay that died after its Redis writes and before marking its rows published: every
    // row goes out again. The jobs are de-duplicated by id, the rankings by event id.
    const duplicatesBefore = await recorded('duplicate');
    const rows = await stack.count('order', 'SELECT count(*) AS n FROM outbox');
    await stack.count('order', 'WITH r AS (UPDATE outbox SET published_at = NULL RETURNING 1) SELECT count(*) AS n FROM r');
    await waitFor(outboxDrained, { description: 'outbox re-drained', timeoutMs: 30_000 });
    expect(await recorded('duplicate')).toBeGreaterThanOrEqual(duplicatesBefore + rows);
    await check();
  }, 120_000);

  it('serves a shorter window and a shorter list, and refuses a window longer than the hour it keeps with 400 naming the field', async () => {
    const short = await rankings('?window=5&limit=1');
    expect(short.windowMinutes).toBe(5);
    expect(short.ordersPerMinute).toHaveLength(5);
    expect(short.bestSelling).toHaveLength(1);
    for (const query of ['?window=61', '?window=0', '?limit=51', '?window=soon', '?extra=1']) {
      const res = await get(`${stack.catalog[0]!.baseUrl}/rankings${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(res.body), query).toMatch(/query/);
    }
  });

  it('answers 503 with Retry-After fast while Redis is frozen, still takes watches, and ranks a watch once when it is made again after', async () => {
    process.kill(stack.redisServer.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const res = await get(`${stack.catalog[0]!.baseUrl}/rankings`);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Date.now() - started).toBeLessThan(3_000);
      // The watch is the customer's; the ranking is best effort.
      expect((await post(`${stack.notifier.baseUrl}/watches`, { productId: 'rk-a' }, await stack.auth('rk-w9'))).status).toBe(
        201,
      );
    } finally {
      process.kill(stack.redisServer.pid, 'SIGCONT');
    }
    // The frozen record may have run at the thaw or not; watching again ranks it once either way.
    expect((await post(`${stack.notifier.baseUrl}/watches`, { productId: 'rk-a' }, await stack.auth('rk-w9'))).status).toBe(201);
    const r = await rankings();
    expect(r.mostWatched.find((p) => p.productId === 'rk-a')?.score).toBe(1);
  }, 60_000);

  it('keeps the rankings under their own hash-tagged keys, one Cluster slot per ranking', async () => {
    const best = await stack.redis.keys(`${keys.order.rankings.bestSelling}:1*`);
    expect(best.length).toBeGreaterThan(0);
    expect(await stack.redis.type(best[0]!)).toBe('zset');
    const ttl = await stack.redis.pttl(best[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(61 * 60_000);
  });
});

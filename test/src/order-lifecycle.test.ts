import { randomUUID } from 'node:crypto';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';

let stack: Stack;
beforeAll(async () => {
  // Orders expire 1.5 s after placement in this stack.
  stack = await startStack({ env: { order: { ORDER_PAYMENT_TIMEOUT: '1500ms', ORDER_RATE_LIMIT_PER_MINUTE: '5' } } });
});
afterAll(() => stack?.stop());

describe('order lifecycle', () => {
  it('pays and cancels; cancelling returns the stock; an unpaid order expires and its stock returns', async () => {
    const id = `life-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 10);
    const paid = await stack.placeOrder(0, 'c-life', [{ productId: id, quantity: 2 }]);
    const cancelled = await stack.placeOrder(1, 'c-life', [{ productId: id, quantity: 3 }]);
    const expiring = await stack.placeOrder(0, 'c-life', [{ productId: id, quantity: 4 }]);
    expect(await stack.stockOf(id)).toBe(1);
    const auth = await stack.auth('c-life');
    expect((await post(`${stack.order[1]!.baseUrl}/orders/${paid.body.id}/pay`, {}, auth)).body.status).toBe('paid');
    expect((await post(`${stack.order[0]!.baseUrl}/orders/${paid.body.id}/cancel`, {}, auth)).status).toBe(409);
    expect((await post(`${stack.order[0]!.baseUrl}/orders/${cancelled.body.id}/cancel`, {}, auth)).body.status).toBe('cancelled');
    await waitFor(async () => (await stack.stockOf(id)) === 4, { description: 'cancelled stock back' });
    await waitFor(
      async () => (await get(`${stack.order[1]!.baseUrl}/orders/${expiring.body.id}`, auth)).body.status === 'expired',
      {
        timeoutMs: 15_000,
        description: 'order to expire',
      },
    );
    await waitFor(async () => (await stack.stockOf(id)) === 8, { description: 'expired stock back' });
    expect((await get(`${stack.order[0]!.baseUrl}/orders/${paid.body.id}`, auth)).body.status).toBe('paid');
  }, 30_000);

  it('limits orders per customer across both order instances with 429 and Retry-After', async () => {
    const id = `rl-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 20);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await stack.placeOrder(i, 'busy-customer', [{ productId: id, quantity: 1 }]));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 429]);
    expect(results[5]!.body.code).toBe('rate_limited');
    expect(Number(results[5]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await stack.placeOrder(0, 'other-customer', [{ productId: id, quantity: 1 }])).status).toBe(201);
  });
});

import { randomUUID } from 'node:crypto';
import { queueKey, queues } from '@storefront/contracts';
import type { ServiceProcess } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, idemKey, post, type Stack, startStack } from './stack.js';

/**
 * Who may do what, on the running shop (real processes, real Redis and Postgres): each
 * state-changing or private route refused without the right credential — and the refusal
 * changed nothing (stock, orders, queues as they were).
 */
let stack: Stack;
let dashboard: ServiceProcess;
beforeAll(async () => {
  stack = await startStack();
  dashboard = await stack.startDashboard();
}, 60_000);
afterAll(async () => {
  await dashboard?.stop('SIGTERM');
  await stack?.stop();
});

const send = async (method: string, url: string, headers: Record<string, string> = {}, body?: unknown) => {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed as Record<string, unknown> };
};

describe('catalog', () => {
  it('refuses product writes without the admin role (401/403) and leaves stock and price alone', async () => {
    const id = `trust-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 5, 1000);
    const catalog = stack.catalog[0]!.baseUrl;
    const customer = await stack.auth('mallory');
    for (const headers of [{}, customer]) {
      const expected = 'authorization' in headers ? 403 : 401;
      expect(
        (await send('POST', `${catalog}/products`, headers, { id: `${id}x`, name: 'x', priceCents: 1, stock: 1 })).status,
      ).toBe(expected);
      expect((await send('PATCH', `${catalog}/products/${id}`, headers, { priceCents: 1 })).status).toBe(expected);
      expect((await send('POST', `${catalog}/products/${id}/restock`, headers, { quantity: 100 })).status).toBe(expected);
    }
    expect(await stack.stockOf(id)).toBe(5);
    expect((await get(`${catalog}/products/${id}`)).body.priceCents).toBe(1000);
  });

  it('refuses reservations and releases from anyone but order (a customer, an admin, nobody): 401, stock untouched', async () => {
    const id = `hold-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 1);
    const placed = await stack.placeOrder(0, 'alice', [{ productId: id, quantity: 1 }]);
    expect(placed.status).toBe(201);
    await post(`${stack.order[0]!.baseUrl}/orders/${placed.body.id}/pay`, {}, await stack.auth('alice'));
    const catalog = stack.catalog[1]!.baseUrl;
    for (const headers of [{}, await stack.auth('mallory'), await stack.auth('admin')]) {
      const hold = await send('POST', `${catalog}/reservations`, headers, {
        orderId: randomUUID(),
        items: [{ productId: id, quantity: 1 }],
      });
      expect(hold.status).toBe(401);
      // Releasing a paid order's reservation once sold its unit twice.
      expect((await send('DELETE', `${catalog}/reservations/${placed.body.id}`, headers)).status).toBe(401);
    }
    expect(await stack.stockOf(id)).toBe(0);
    expect((await stack.placeOrder(1, 'bob', [{ productId: id, quantity: 1 }])).status).toBe(409);
  });
});

describe('order', () => {
  it("answers another customer's order with 404 (read, pay, cancel) and places nothing without a token", async () => {
    const id = `own-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 5);
    const placed = await stack.placeOrder(0, 'carol', [{ productId: id, quantity: 1 }]);
    const order = `${stack.order[1]!.baseUrl}/orders/${placed.body.id}`;
    const mallory = await stack.auth('mallory');
    expect((await send('GET', order, mallory)).status).toBe(404);
    expect((await send('POST', `${order}/pay`, mallory)).status).toBe(404);
    expect((await send('POST', `${order}/cancel`, mallory)).status).toBe(404);
    expect((await send('GET', order, await stack.auth('carol'))).body.status).toBe('reserved');
    const anonymous = await send(
      'POST',
      `${stack.order[0]!.baseUrl}/orders`,
      { 'idempotency-key': idemKey() },
      {
        items: [{ productId: id, quantity: 1 }],
      },
    );
    expect(anonymous.status).toBe(401);
    expect(await stack.stockOf(id)).toBe(4);
  });
});

describe('notifier', () => {
  it("refuses another customer's notifications (403), and dead letters to anyone but an admin (401/403)", async () => {
    const notifier = stack.notifier.baseUrl;
    const mallory = await stack.auth('mallory');
    expect((await send('GET', `${notifier}/notifications?customerId=carol`, mallory)).status).toBe(403);
    expect((await send('GET', `${notifier}/notifications?customerId=carol`)).status).toBe(401);
    expect((await send('GET', `${notifier}/dead-letters`)).status).toBe(401);
    expect((await send('GET', `${notifier}/dead-letters`, mallory)).status).toBe(403);
    const retry = `${notifier}/dead-letters/notify-${randomUUID()}-carol/retry`;
    expect((await send('POST', retry)).status).toBe(401);
    expect((await send('POST', retry, mallory)).status).toBe(403);
    expect((await send('POST', `${notifier}/watches`, {}, { productId: 'x' })).status).toBe(401);
    expect((await send('GET', `${notifier}/dead-letters`, await stack.auth('admin'))).status).toBe(200);
  });
});

describe('dashboard', () => {
  it('needs a signed-in user for its API and the queues, and the admin role for process control', async () => {
    const base = dashboard.baseUrl;
    expect((await send('GET', `${base}/api/state`)).status).toBe(401);
    expect((await send('GET', `${base}/queues/api/queues`)).status).toBe(401);
    expect((await send('POST', `${base}/api/orders`, {}, { productId: 'x' })).status).toBe(401);
    expect((await send('POST', `${base}/api/control/kill/order-1`)).status).toBe(401);
    expect((await send('POST', `${base}/api/control/kill/order-1`, await stack.auth('mallory'))).status).toBe(403);
    // An admin passes the guard; without `pnpm demo` there is no process control at all.
    expect((await send('POST', `${base}/api/control/kill/order-1`, await stack.auth('admin'))).status).toBe(404);
    expect((await send('GET', `${base}/api/state`, await stack.auth('mallory'))).status).toBe(200);
  });

  it('gives non-admins a read-only Bull Board (405 on writes) and admins a writable one', async () => {
    const pause = `${dashboard.baseUrl}/queues/api/queues/order-expiry/pause`;
    const resume = `${dashboard.baseUrl}/queues/api/queues/order-expiry/resume`;
    expect((await send('PUT', pause, await stack.auth('mallory'))).status).toBe(405);
    expect(await stack.redis.hget(queueKey(queues.orderExpiry, 'meta'), 'paused')).toBeNull();
    const admin = await stack.auth('admin');
    expect((await send('PUT', pause, admin)).status).toBe(200);
    expect((await send('PUT', resume, admin)).status).toBe(200);
  });

  it('signs in to an HttpOnly SameSite=Strict cookie and refuses cross-site requests that carry it', async () => {
    const id = `csrf-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 5);
    const base = dashboard.baseUrl;
    const token = await stack.tokenFor('dave');
    expect((await send('POST', `${base}/api/session`, {}, { token: 'not-a-token' })).status).toBe(401);
    const signIn = await send('POST', `${base}/api/session`, {}, { token });
    expect(signIn.status).toBe(200);
    const setCookie = signIn.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(';')[0]!;
    const order = { productId: id, quantity: 1 };
    const host = new URL(base).host;
    // A forged request from another site carries the cookie but says where it comes from.
    expect((await send('POST', `${base}/api/orders`, { cookie, origin: 'https://evil.example' }, order)).status).toBe(403);
    expect((await send('POST', `${base}/api/orders`, { cookie, 'sec-fetch-site': 'cross-site' }, order)).status).toBe(403);
    expect((await send('POST', `${base}/api/orders`, { cookie }, order)).status).toBe(403);
    expect(await stack.stockOf(id)).toBe(5);
    const sameOrigin = await send(
      'POST',
      `${base}/api/orders`,
      { cookie, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
      order,
    );
    expect(sameOrigin.status).toBe(201);
    expect(sameOrigin.body.customerId).toBe('dave');
    expect(await stack.stockOf(id)).toBe(4);
  });
});

import { randomUUID } from 'node:crypto';
import type { ServiceProcess } from '@storefront/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, type Stack, startStack } from './stack.js';

/**
 * A seeded, bounded fuzz of every endpoint of every service and the dashboard, on the
 * running shop (loopback only). Requests mix valid and broken parts — path segments with
 * bad %-escapes, bodies of any JSON (or none, or not JSON), lying Content-Encoding,
 * missing/garbage/customer/admin tokens — and every answer must be: not a 5xx, answered
 * within 10 s, problem+json when it is an error. Afterwards the shop is consistent: no
 * process crashed, stock changed only by what was accepted, nothing reserved directly.
 *
 * FUZZ_RUNS (default 2 000) requests per endpoint; FUZZ_SEED replays a run.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const CONCURRENCY = 24;
const PRODUCTS = ['fz-a', 'fz-b', 'fz-c'];
const INITIAL_STOCK = 100_000;

let stack: Stack;
let dashboard: ServiceProcess;
const orderIds: string[] = [];
beforeAll(async () => {
  // Per-customer limits stay at their defaults: 429s are answers too.
  stack = await startStack();
  dashboard = await stack.startDashboard();
  for (const id of PRODUCTS) await stack.createProduct(id, INITIAL_STOCK, 1000);
  for (let i = 0; i < 3; i++) {
    const placed = await stack.placeOrder(i, `fz-owner-${i}`, [{ productId: PRODUCTS[0]!, quantity: 1 }]);
    orderIds.push(placed.body.id);
  }
}, 60_000);
afterAll(async () => {
  await dashboard?.stop('SIGTERM');
  await stack?.stop();
});

interface Req {
  method: string;
  path: string;
  auth: 'none' | 'garbage' | 'customer' | 'admin';
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string } | { kind: 'none' };
  encoding?: string;
}

/** A path segment: a real id, something plausible, or hostile (%-escapes, dots, huge, braces). */
const segment = () =>
  fc.oneof(
    fc.constantFrom(...PRODUCTS, 'no-such-id', 'meta', 'wait', '..', '%', '%E0', '%zz', '%00', '{bull}', 'a'.repeat(300)),
    fc.constantFrom(...orderIds, randomUUID()),
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
    fc.stringMatching(/^[A-Za-z0-9%_.-]{1,20}$/),
  );
const anyJson = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constant(undefined) },
);
/** Near-valid bodies: the right shape with fuzzed values, so the validators' edges are hit. */
const items = fc.array(
  fc.record({
    productId: fc.oneof(fc.constantFrom(...PRODUCTS), fc.string({ maxLength: 70 })),
    quantity: fc.oneof(fc.integer({ min: -5, max: 1_005 }), fc.double(), fc.string({ maxLength: 3 })),
  }),
  { maxLength: 55 },
);
const nearValid: Record<string, fc.Arbitrary<unknown>> = {
  product: fc.record({
    id: fc.oneof(fc.constant(`fz-new-${randomUUID().slice(0, 4)}`), fc.string({ maxLength: 70 })),
    name: fc.string({ maxLength: 300 }),
    priceCents: fc.oneof(fc.integer({ min: -10, max: 2 ** 33 }), fc.double()),
    stock: fc.integer({ min: -10, max: 2 ** 33 }),
  }),
  patch: fc.record({ priceCents: fc.oneof(fc.integer({ min: -10, max: 2 ** 33 }), fc.constant(null)) }, { requiredKeys: [] }),
  restock: fc.record({ quantity: fc.oneof(fc.integer({ min: -10, max: 2 ** 33 }), fc.double()) }),
  reservation: fc.record({ orderId: fc.oneof(fc.uuid(), fc.string()), items }),
  order: fc.record({ items }, { requiredKeys: [] }),
  watch: fc.record({ productId: fc.oneof(fc.constantFrom(...PRODUCTS), fc.string({ maxLength: 80 })) }),
  dashOrder: fc.record({
    productId: fc.oneof(fc.constantFrom(...PRODUCTS), fc.string()),
    quantity: fc.integer({ min: -2, max: 12 }),
  }),
  session: fc.record({ token: fc.oneof(fc.string({ maxLength: 50 }), fc.constant('a.b.c')) }),
};
const bodyOf = (shape?: string) =>
  fc.oneof(
    { weight: 4, arbitrary: (shape ? nearValid[shape]! : anyJson).map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: anyJson.map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((text) => ({ kind: 'raw' as const, text })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  );

type Target = 'catalog' | 'order' | 'notifier' | 'dashboard';
interface Endpoint {
  name: string;
  target: Target;
  method: string;
  path: (seg: string) => string;
  body?: string;
}
const ENDPOINTS: Endpoint[] = [
  { name: 'GET /products', target: 'catalog', method: 'GET', path: (s) => `/products?limit=${s}&cursor=${s}` },
  { name: 'GET /products/:id', target: 'catalog', method: 'GET', path: (s) => `/products/${s}` },
  { name: 'GET /rankings', target: 'catalog', method: 'GET', path: (s) => `/rankings?window=${s}&limit=${s}` },
  { name: 'POST /products', target: 'catalog', method: 'POST', path: () => '/products', body: 'product' },
  { name: 'PATCH /products/:id', target: 'catalog', method: 'PATCH', path: (s) => `/products/${s}`, body: 'patch' },
  {
    name: 'POST /products/:id/restock',
    target: 'catalog',
    method: 'POST',
    path: (s) => `/products/${s}/restock`,
    body: 'restock',
  },
  { name: 'POST /reservations', target: 'catalog', method: 'POST', path: () => '/reservations', body: 'reservation' },
  { name: 'DELETE /reservations/:id', target: 'catalog', method: 'DELETE', path: (s) => `/reservations/${s}` },
  { name: 'POST /orders', target: 'order', method: 'POST', path: () => '/orders', body: 'order' },
  { name: 'GET /orders/:id', target: 'order', method: 'GET', path: (s) => `/orders/${s}` },
  { name: 'POST /orders/:id/pay', target: 'order', method: 'POST', path: (s) => `/orders/${s}/pay` },
  { name: 'POST /orders/:id/cancel', target: 'order', method: 'POST', path: (s) => `/orders/${s}/cancel` },
  { name: 'GET /notifications', target: 'notifier', method: 'GET', path: (s) => `/notifications?customerId=${s}&orderId=${s}` },
  { name: 'GET /dead-letters', target: 'notifier', method: 'GET', path: () => '/dead-letters' },
  { name: 'POST /dead-letters/:id/retry', target: 'notifier', method: 'POST', path: (s) => `/dead-letters/${s}/retry` },
  { name: 'POST /watches', target: 'notifier', method: 'POST', path: () => '/watches', body: 'watch' },
  { name: 'POST /api/session', target: 'dashboard', method: 'POST', path: () => '/api/session', body: 'session' },
  { name: 'GET /api/state', target: 'dashboard', method: 'GET', path: () => '/api/state' },
  { name: 'POST /api/orders', target: 'dashboard', method: 'POST', path: () => '/api/orders', body: 'dashOrder' },
  { name: 'POST /api/control/kill/:id', target: 'dashboard', method: 'POST', path: (s) => `/api/control/kill/${s}` },
  { name: 'Bull Board API', target: 'dashboard', method: 'GET', path: (s) => `/queues/api/queues?activeQueue=${s}&page=${s}` },
  {
    name: 'Bull Board job',
    target: 'dashboard',
    method: 'PUT',
    path: (s) => `/queues/api/queues/notifications/${s}/retry/failed`,
  },
  { name: 'GET /sd/targets', target: 'dashboard', method: 'GET', path: () => '/sd/targets' },
];

interface Answer {
  status: number | 'timeout' | 'network';
  type: string;
  endpoint: string;
  req: Req;
}

const baseUrl = (target: Target, i: number) =>
  target === 'dashboard' ? dashboard.baseUrl : target === 'notifier' ? stack.notifier.baseUrl : stack[target][i % 2]!.baseUrl;

const fire = async (endpoint: Endpoint, req: Req, i: number): Promise<Answer> => {
  const headers: Record<string, string> = { 'idempotency-key': `fuzz-${randomUUID()}` };
  if (req.auth === 'garbage') headers.authorization = 'Bearer x.y.z';
  if (req.auth === 'customer') headers.authorization = `Bearer ${await stack.tokenFor(`fz-c${i % 50}`)}`;
  if (req.auth === 'admin') headers.authorization = `Bearer ${stack.adminToken}`;
  if (req.encoding) headers['content-encoding'] = req.encoding;
  let body: string | undefined;
  if (req.body.kind !== 'none') {
    headers['content-type'] = 'application/json';
    body = req.body.kind === 'raw' ? req.body.text : JSON.stringify(req.body.value ?? null);
  }
  try {
    const res = await fetch(`${baseUrl(endpoint.target, i)}${req.path}`, {
      method: req.method,
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { status: res.status, type: res.headers.get('content-type') ?? '', endpoint: endpoint.name, req };
  } catch (error) {
    const status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
    return { status, type: '', endpoint: endpoint.name, req };
  }
};

/** Run `tasks` with at most CONCURRENCY in flight. */
const pool = async <T>(tasks: (() => Promise<T>)[]): Promise<T[]> => {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++]!;
        results.push(await task());
      }
    }),
  );
  return results;
};

describe(`fuzz: ${RUNS} requests per endpoint, seed ${SEED}`, () => {
  it('answers every request without a 5xx or a hang, errors as problem+json, and the shop stays consistent', async () => {
    const answers: Answer[] = [];
    for (const endpoint of ENDPOINTS) {
      const requests = fc.sample(
        fc.record({
          seg: segment(),
          auth: fc.constantFrom<Req['auth']>('none', 'garbage', 'customer', 'customer', 'admin'),
          body: bodyOf(endpoint.body),
          encoding: fc.option(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-nope'), { freq: 8 }),
        }),
        { numRuns: RUNS, seed: SEED + ENDPOINTS.indexOf(endpoint) },
      );
      const started = performance.now();
      answers.push(
        ...(await pool(
          requests.map(
            (r, i) => () =>
              fire(
                endpoint,
                {
                  method: endpoint.method,
                  path: endpoint.path(r.seg),
                  auth: r.auth,
                  body: endpoint.method === 'GET' ? { kind: 'none' } : r.body,
                  ...(r.encoding ? { encoding: r.encoding } : {}),
                },
                i,
              ),
          ),
        )),
      );
      console.log(`fuzz ${endpoint.name.padEnd(28)} ${RUNS} requests in ${Math.round(performance.now() - started)} ms`);
    }
    const failures = answers.filter((a) => a.status === 'timeout' || a.status === 'network' || a.status >= 500);
    expect(failures.slice(0, 5), `${failures.length} 5xx/hangs`).toEqual([]);
    // Bull Board's own API answers its errors in its own JSON; everything else is problem+json.
    const notProblem = answers.filter(
      (a) =>
        typeof a.status === 'number' &&
        a.status >= 400 &&
        !a.endpoint.startsWith('Bull Board') &&
        !a.type.includes('problem+json'),
    );
    expect(notProblem.slice(0, 5)).toEqual([]);
    expect(answers).toHaveLength(RUNS * ENDPOINTS.length);

    // No process crashed.
    for (const p of [...stack.catalog, ...stack.order, stack.notifier, dashboard]) expect(p.child.exitCode).toBeNull();
    // Nothing reserved except through order: no request carried order's service token.
    expect(answers.filter((a) => a.endpoint === 'POST /reservations' && a.status === 201)).toEqual([]);
    // Stock changed only by what was accepted: initial + accepted restocks − units of live orders.
    const restocked = new Map<string, number>();
    for (const a of answers.filter((x) => x.endpoint === 'POST /products/:id/restock' && x.status === 200)) {
      const id = decodeURIComponent(a.req.path.split('/')[2]!);
      const value = (a.req.body as { value?: { quantity?: number } }).value;
      restocked.set(id, (restocked.get(id) ?? 0) + Number(value?.quantity));
    }
    const live = await queryRows<{ items: { productId: string; quantity: number }[] }>(
      stack.dbs.order.url,
      "SELECT items FROM orders WHERE status IN ('reserved', 'paid')",
    );
    const taken = new Map<string, number>();
    for (const row of live)
      for (const item of row.items) taken.set(item.productId, (taken.get(item.productId) ?? 0) + item.quantity);
    // A sale's release runs after the order's status change: let the outbox settle first.
    for (const id of PRODUCTS) {
      const expected = INITIAL_STOCK + (restocked.get(id) ?? 0) - (taken.get(id) ?? 0);
      await expect.poll(() => stack.stockOf(id), { timeout: 15_000, interval: 250 }).toBe(expected);
    }
    const negative = await queryRows(stack.dbs.catalog.url, 'SELECT id FROM products WHERE stock < 0');
    expect(negative).toEqual([]);
    const placed = answers.filter(
      (a) => (a.endpoint === 'POST /orders' || a.endpoint === 'POST /api/orders') && a.status === 201,
    );
    console.log(
      `fuzz: ${answers.length} requests; statuses ${JSON.stringify(
        answers.reduce<Record<string, number>>((m, a) => {
          m[String(a.status)] = (m[String(a.status)] ?? 0) + 1;
          return m;
        }, {}),
      )}; ${placed.length} orders placed`,
    );
  }, 600_000);
});

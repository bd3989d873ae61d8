import { randomUUID } from 'node:crypto';
import { keys as appKeys } from '@storefront/contracts';
import { createRedis, RedisLock } from '@storefront/redis-kit';
import { ServiceHost } from '@storefront/service-defaults';
import { createPool, ServiceTokenSigner } from '@storefront/service-kit';
import {
  createServiceKeys,
  createShopCredentials,
  createTestDatabase,
  type ShopCredentials,
  type TestDatabase,
  waitFor,
} from '@storefront/testing';
import type { Express } from 'express';
import type pg from 'pg';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { compose } from '../src/compose.js';
import { type CatalogConfig, databaseSessionLimits, loadCatalogConfig } from '../src/config.js';

let credentials: ShopCredentials;
/** An admin's `authorization` header. */
let auth: { authorization: string };
/** Order's service token (the only caller reservations accept), renewed before each test. */
let fromOrder: { authorization: string };
let orderSigner: ServiceTokenSigner;
beforeEach(async () => {
  fromOrder = { authorization: `Bearer ${await orderSigner.token('catalog')}` };
});

let db: TestDatabase;
let pool: pg.Pool;
const hosts: ServiceHost<CatalogConfig>[] = [];

/** One catalog instance, composed in-process as main.ts does; instances share Redis and Postgres. */
const instance = async (env: Record<string, string> = {}): Promise<Express> => {
  const config = loadCatalogConfig({
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: db.url,
    ...credentials.env.catalog,
    // The 60-reservation race queues behind one SKU lock: give waiters room.
    STOCK_LOCK_WAIT: '20s',
    ...env,
  });
  const host = new ServiceHost({ service: 'catalog', config, logger: pino({ level: 'silent' }) });
  hosts.push(host);
  return (await compose(host)).app;
};

let a: Express;
let b: Express;
beforeAll(async () => {
  credentials = await createShopCredentials();
  auth = { authorization: `Bearer ${await credentials.identity.token('catalog-admin', { admin: true })}` };
  orderSigner = new ServiceTokenSigner('order', JSON.parse(credentials.env.order.SERVICE_SIGNING_KEY!));
  db = await createTestDatabase(inject('postgresUrl'), 'catalog');
  [a, b] = [await instance(), await instance()];
  pool = createPool(db.url);
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await pool.end();
  await db.drop();
});

const sku = () => `sku-${randomUUID().slice(0, 8)}`;
const createProduct = async (stock = 10, priceCents = 1000) => {
  const id = sku();
  const res = await request(a)
    .post('/products')
    .set(auth)
    .send({ id, name: `Product ${id}`, priceCents, stock });
  expect(res.status).toBe(201);
  return id;
};
/** A reservation of one unit of each of `productIds`, as order sends it. */
const reserveUnits = (app: Express, productIds: string[], orderId: string = randomUUID()) =>
  request(app)
    .post('/reservations')
    .set(fromOrder)
    .send({ orderId, items: productIds.map((productId) => ({ productId, quantity: 1 })) });
const stockOf = async (id: string) =>
  (await pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id])).rows[0]?.stock;

describe('products', () => {
  it('serves a read from Postgres, then from L1, and says so', async () => {
    const id = await createProduct();
    const first = await request(b).get(`/products/${id}`);
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('miss');
    expect((await request(b).get(`/products/${id}`)).headers['x-cache']).toBe('l1');
    // Another instance finds it in Redis.
    expect((await request(a).get(`/products/${id}`)).headers['x-cache']).toBe('l2');
    // A row that never went through the cache is a miss.
    const uncached = sku();
    await pool.query("INSERT INTO products (id, name, price_cents, stock) VALUES ($1, 'direct', 5, 1)", [uncached]);
    expect((await request(b).get(`/products/${uncached}`)).headers['x-cache']).toBe('miss');
  });

  it('keeps a long description compressed in the cache Redis, and serves it whole from there', async () => {
    const id = sku();
    const description = 'Washed, roasted medium-dark; cocoa, cherry, a syrupy body and a long finish. '.repeat(25).slice(0, 2000);
    const created = await request(a)
      .post('/products')
      .set(auth)
      .send({ id, name: 'Long', description, priceCents: 100, stock: 1 });
    expect(created.status).toBe(201);
    await request(b).get(`/products/${id}`);
    const redis = createRedis({ url: inject('redisUrl') });
    try {
      const stored = (await redis.get(appKeys.catalog.productCache(id)))!;
      expect(JSON.parse(stored)).toMatchObject({ z: 'br' });
      expect(stored).not.toContain('cocoa');
      expect(stored.length).toBeLessThan(description.length / 4);
    } finally {
      redis.disconnect();
    }
    const fromRedis = await request(a).get(`/products/${id}`);
    expect(fromRedis.headers['x-cache']).toBe('l2');
    expect(fromRedis.body.description).toBe(description);
  });

  it('shows an admin price change made on one instance on the other instance’s next read', async () => {
    const id = await createProduct(5, 1000);
    await request(b).get(`/products/${id}`);
    expect((await request(b).get(`/products/${id}`)).headers['x-cache']).toBe('l1');
    const patched = await request(a).patch(`/products/${id}`).set(auth).send({ priceCents: 800 });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ priceCents: 800, version: 2 });
    const next = await request(b).get(`/products/${id}`);
    expect(next.body.priceCents).toBe(800);
  });

  it('answers an unknown product with 404 problem+json', async () => {
    const res = await request(a).get('/products/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });

  it('requires the admin role for writes: 401 without a valid token, 403 for a customer, and writes nothing', async () => {
    const id = sku();
    const customer = { authorization: `Bearer ${await credentials.identity.token('just-a-customer')}` };
    const foreign = await createShopCredentials(); // a token signed by a key catalog does not trust
    const forged = { authorization: `Bearer ${await foreign.identity.token('catalog-admin', { admin: true })}` };
    const product = { id, name: 'x', priceCents: 1, stock: 1 };
    expect((await request(a).post('/products').send(product)).status).toBe(401);
    expect((await request(a).post('/products').set(forged).send(product)).status).toBe(401);
    const refused = await request(a).post('/products').set(customer).send(product);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect((await request(a).patch('/products/x').set({ authorization: 'Bearer nope' }).send({ priceCents: 1 })).status).toBe(
      401,
    );
    expect((await request(a).post(`/products/${id}/restock`).set(customer).send({ quantity: 5 })).status).toBe(403);
    expect(await stockOf(id)).toBeUndefined();
  });

  it('rejects bad product input naming the field, and writes nothing', async () => {
    const id = sku();
    const res = await request(a).post('/products').set(auth).send({ id, name: '', priceCents: -1, stock: 1.5, color: 'red' });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(['body.name', 'body.priceCents', 'body.stock', 'body.color']),
    );
    expect(await stockOf(id)).toBeUndefined();
  });

  it('lists products by cursor', async () => {
    const page = await request(a).get('/products?limit=2');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    const next = await request(a).get(`/products?limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body.items[0].id > page.body.items[1].id).toBe(true);
    expect((await request(a).get('/products?limit=1000')).status).toBe(400);
  });
});

describe('reservations', () => {
  it('accept only order’s service token: 401 without one, with an admin’s, with an untrusted key or another audience; no stock touched', async () => {
    const id = await createProduct(5);
    const body = { orderId: randomUUID(), items: [{ productId: id, quantity: 1 }] };
    const keys = await createServiceKeys(['order']);
    // A key catalog does not trust, even under order's name.
    const impostor = new ServiceTokenSigner('order', JSON.parse(keys.signingKey('order')));
    const refusals = [
      await request(a).post('/reservations').send(body),
      await request(a).post('/reservations').set(auth).send(body),
      await request(a)
        .post('/reservations')
        .set({ authorization: `Bearer ${await impostor.token('catalog')}` })
        .send(body),
      await request(a).delete(`/reservations/${body.orderId}`),
      await request(a).delete(`/reservations/${body.orderId}`).set(auth),
    ];
    expect(refusals.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    expect(refusals[0]!.headers['www-authenticate']).toBe('Bearer');
    // Order's token for another audience is not a token for catalog.
    const forNotifier = { authorization: `Bearer ${await orderSigner.token('notifier')}` };
    expect((await request(a).post('/reservations').set(forNotifier).send(body)).status).toBe(401);
    expect(await stockOf(id)).toBe(5);
    expect((await request(a).post('/reservations').set(fromOrder).send(body)).status).toBe(201);
    expect(await stockOf(id)).toBe(4);
  });

  it('reserves all items, returns the first result for a repeated orderId, and releases idempotently', async () => {
    const [p1, p2] = [await createProduct(5, 100), await createProduct(5, 250)];
    const orderId = randomUUID();
    const body = {
      orderId,
      items: [
        { productId: p2, quantity: 2 },
        { productId: p1, quantity: 1 },
      ],
    };
    const first = await request(a).post('/reservations').set(fromOrder).send(body);
    expect(first.status).toBe(201);
    expect(first.body.items).toEqual(
      expect.arrayContaining([
        { productId: p1, quantity: 1, unitPriceCents: 100 },
        { productId: p2, quantity: 2, unitPriceCents: 250 },
      ]),
    );
    const repeat = await request(b).post('/reservations').set(fromOrder).send(body);
    expect(repeat.body).toEqual(first.body);
    expect([await stockOf(p1), await stockOf(p2)]).toEqual([4, 3]);
    expect((await request(b).get(`/products/${p1}`)).body.stock).toBe(4);

    expect((await request(a).delete(`/reservations/${orderId}`).set(fromOrder)).status).toBe(204);
    expect((await request(b).delete(`/reservations/${orderId}`).set(fromOrder)).status).toBe(204);
    expect([await stockOf(p1), await stockOf(p2)]).toEqual([5, 5]);
  });

  it('refuses a reservation that arrives after its order was released (no orphaned stock)', async () => {
    const id = await createProduct(5);
    const orderId = randomUUID();
    expect((await request(a).delete(`/reservations/${orderId}`).set(fromOrder)).status).toBe(204);
    const late = await request(b)
      .post('/reservations')
      .set(fromOrder)
      .send({ orderId, items: [{ productId: id, quantity: 2 }] });
    expect(late.status).toBe(409);
    expect(await stockOf(id)).toBe(5);
  });

  it('is all-or-nothing and names the short item', async () => {
    const [plenty, scarce] = [await createProduct(10), await createProduct(1)];
    const res = await request(a)
      .post('/reservations')
      .set(fromOrder)
      .send({
        orderId: randomUUID(),
        items: [
          { productId: plenty, quantity: 3 },
          { productId: scarce, quantity: 2 },
        ],
      });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'insufficient_stock', productId: scarce });
    expect([await stockOf(plenty), await stockOf(scarce)]).toEqual([10, 1]);
  });

  it('never oversells: 60 concurrent single-unit reservations over two instances for stock 20', async () => {
    const id = await createProduct(20);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        request(i % 2 ? a : b)
          .post('/reservations')
          .set(fromOrder)
          .send({ orderId: randomUUID(), items: [{ productId: id, quantity: 1 }] }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    expect(await stockOf(id)).toBe(0);
  }, 60_000);

  it('heals a fencing counter Redis lost: the next reservation succeeds, and the counter moves past the stored fence', async () => {
    const id = await createProduct(10);
    const reserve = (app: Express) => reserveUnits(app, [id]);
    for (let i = 0; i < 3; i++) expect((await reserve(a)).status).toBe(201);
    const stored = Number((await pool.query('SELECT fence FROM products WHERE id = $1', [id])).rows[0].fence);
    expect(stored).toBeGreaterThanOrEqual(3);
    const fenceKey = `catalog:lock:{stock:${id}}:fence`;
    const admin = createRedis({ url: inject('redisUrl') });
    try {
      // What an empty restart or an unreplicated failover does to the counter: gone, so
      // the next lease's fence (1) is below the one Postgres holds.
      expect(await admin.del(fenceKey)).toBe(1);
      const healed = await reserve(b);
      expect(healed.status).toBe(201);
      expect(await stockOf(id)).toBe(6);
      expect(Number(await admin.get(fenceKey))).toBeGreaterThan(stored);
      expect((await reserve(a)).status).toBe(201);
    } finally {
      admin.disconnect();
    }
  });

  it('heals every lost counter of a multi-SKU reservation (one per refused key), then reserves all of it', async () => {
    const ids = [await createProduct(10), await createProduct(10), await createProduct(10)];
    // Enough history that one retry's fresh leases are still behind on the other keys.
    for (let i = 0; i < 4; i++) expect((await reserveUnits(a, ids)).status).toBe(201);
    const admin = createRedis({ url: inject('redisUrl') });
    try {
      // A failover that lost every counter's last increments: all three behind Postgres.
      for (const id of ids) expect(await admin.del(`catalog:lock:{stock:${id}}:fence`)).toBe(1);
      const healed = await reserveUnits(b, ids);
      expect(healed.status).toBe(201);
      for (const id of ids) expect(await stockOf(id)).toBe(5);
    } finally {
      admin.disconnect();
    }
  });

  it('makes the reservations waiting on one SKU under one hold of its lock, each with its own answer, healing a lost fence for all', async () => {
    const id = await createProduct(4);
    const reserve = (orderId: string) => reserveUnits(a, [id], orderId);
    // Postgres now holds fence 2: a lease from a counter that starts again (1) is behind it.
    for (let i = 0; i < 2; i++) expect((await reserve(randomUUID())).status).toBe(201);
    const metric = async (name: string) => {
      const text = (await request(a).get('/metrics')).text;
      return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    };
    const [holdsBefore, madeBefore] = [
      await metric('stock_reservations_per_lock_hold_count'),
      await metric('stock_reservations_per_lock_hold_sum'),
    ];
    const admin = createRedis({ url: inject('redisUrl') });
    const lockKey = appKeys.catalog.stockLock(id);
    const holder = await new RedisLock(admin, { ttlMs: 10_000 }).acquire(lockKey);
    try {
      // The counter lost (an empty restart): the next lease's fence is behind Postgres's.
      expect(await admin.del(`${lockKey}:fence`)).toBe(1);
      const repeated = randomUUID();
      const orderIds = [repeated, randomUUID(), randomUUID(), repeated, randomUUID(), randomUUID()];
      const answers = Promise.all(orderIds.map((orderId) => reserve(orderId).then((r) => r)));
      await waitFor(async () => (await metric('stock_reservations_in_flight')) === orderIds.length, {
        description: 'all six reservations waiting for the SKU lock',
      });
      await holder.release();
      const results = await answers;
      const statuses = results.map((r) => r.status);
      // Two units left, five distinct orders: two reserved, three refused; the repeat answers alike.
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
      expect(new Set(orderIds.filter((_, i) => statuses[i] === 201)).size).toBe(2);
      expect(results[3]!.status).toBe(results[0]!.status);
      expect(results[3]!.body).toEqual(results[0]!.body);
      expect(await stockOf(id)).toBe(0);
      expect(Number(await admin.get(`${lockKey}:fence`))).toBeGreaterThan(2); // healed past Postgres's fence
      // Six reservations, fewer holds: the ones that waited together went under one.
      const holds = (await metric('stock_reservations_per_lock_hold_count')) - holdsBefore;
      expect((await metric('stock_reservations_per_lock_hold_sum')) - madeBefore).toBe(orderIds.length);
      expect(holds).toBeLessThanOrEqual(2);
    } finally {
      await holder.release().catch(() => {});
      admin.disconnect();
    }
  });

  it('answers a SKU held past its lock wait with 503 stock lock and Retry-After, and writes nothing', async () => {
    const impatient = await instance({ STOCK_LOCK_WAIT: '300ms' });
    const id = await createProduct(5);
    const admin = createRedis({ url: inject('redisUrl') });
    const holder = await new RedisLock(admin, { ttlMs: 10_000 }).acquire(`catalog:lock:{stock:${id}}`);
    try {
      const started = performance.now();
      const res = await request(impatient)
        .post('/reservations')
        .set(fromOrder)
        .send({ orderId: randomUUID(), items: [{ productId: id, quantity: 1 }] });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'stock lock', reason: 'busy' });
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(await stockOf(id)).toBe(5);
    } finally {
      await holder.release();
      admin.disconnect();
    }
  });

  it('gets past a stalled holder’s open transaction: Postgres ends that session after one lock TTL', async () => {
    const env = { STOCK_LOCK_TTL_MS: '1000' };
    const healthy = await instance(env);
    const id = await createProduct(5);
    // A catalog session stalled mid-reservation (a paused process): the row is locked and its
    // transaction stays open. It runs with catalog's own session limits.
    const stalledPool = createPool(db.url, {
      max: 1,
      ...databaseSessionLimits(loadCatalogConfig({ ...env, DATABASE_URL: db.url, ...credentials.env.catalog })),
    });
    stalledPool.on('error', () => {});
    const stalled = await stalledPool.connect();
    stalled.on('error', () => {});
    try {
      await stalled.query('BEGIN');
      await stalled.query('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [id]);
      const started = performance.now();
      const res = await request(healthy)
        .post('/reservations')
        .set(fromOrder)
        .send({ orderId: randomUUID(), items: [{ productId: id, quantity: 2 }] });
      const tookMs = performance.now() - started;
      expect(res.status).toBe(201);
      expect(tookMs).toBeGreaterThanOrEqual(800); // it did wait for the stalled session…
      expect(tookMs).toBeLessThan(2_500); // …only until Postgres ended it
      expect(await stockOf(id)).toBe(3);
      await expect(stalled.query('SELECT 1')).rejects.toThrow();
    } finally {
      stalled.release(true);
      await stalledPool.end();
    }
  });

  it('rejects bad reservation input naming the field', async () => {
    const res = await request(a)
      .post('/reservations')
      .set(fromOrder)
      .send({ orderId: 'not-a-uuid', items: [{ productId: 'a', quantity: 0 }] });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.orderId', 'body.items.0.quantity']);
  });

  it('restocks under the lock (admin)', async () => {
    const id = await createProduct(0);
    const res = await request(a).post(`/products/${id}/restock`).set(auth).send({ quantity: 7 });
    expect(res.status).toBe(200);
    expect(res.body.stock).toBe(7);
    expect((await request(b).get(`/products/${id}`)).body.stock).toBe(7);
  });
});

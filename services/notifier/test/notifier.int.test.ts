import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { jobIds, NOTIFICATION_JOB_OPTIONS, type NotificationJob, newEvent } from '@storefront/contracts';
import { ServiceHost } from '@storefront/service-defaults';
import { createShopCredentials, createTestDatabase, type ShopCredentials, type TestDatabase, waitFor } from '@storefront/testing';
import pg from 'pg';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { compose } from '../src/compose.js';
import { loadNotifierConfig, type NotifierConfig } from '../src/config.js';
import { NotificationStore } from '../src/store/notification-store.js';

/** A small real webhook receiver: answers with the next scripted status (200 once the script runs out). */
const startWebhookSink = async () => {
  const received: { key: string; body: NotificationJob['data'] }[] = [];
  let script: number[] = [];
  const server: Server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const status = script.shift() ?? 200;
    if (status === 200) received.push({ key: String(req.headers['idempotency-key']), body: JSON.parse(text) });
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    received,
    answer(statuses: number[]) {
      script = [...statuses];
    },
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
};

let db: TestDatabase;
let sink: Awaited<ReturnType<typeof startWebhookSink>>;
let host: ServiceHost<NotifierConfig>;
let notifier: Awaited<ReturnType<typeof compose>>;
let credentials: ShopCredentials;
let adminToken: Promise<string> | undefined;
/** `customerId`'s `authorization` header (`'admin'`: an admin's). */
const as = async (customerId: string) => {
  adminToken ??= credentials.identity.token('admin', { admin: true });
  return { authorization: `Bearer ${await (customerId === 'admin' ? adminToken : credentials.identity.customer(customerId))}` };
};

beforeAll(async () => {
  credentials = await createShopCredentials();
  db = await createTestDatabase(inject('postgresUrl'), 'notifier');
  sink = await startWebhookSink();
  const config = loadNotifierConfig({
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: db.url,
    NOTIFY_WEBHOOK_URL: sink.url,
    NOTIFY_STALLED_INTERVAL: '2s',
    WATCH_RATE_LIMIT_PER_MINUTE: '5',
    ...credentials.env.notifier,
  });
  host = new ServiceHost({ service: 'notifier', config, logger: pino({ level: 'silent' }) });
  notifier = await compose(host);
});
afterAll(async () => {
  await host?.close();
  await sink?.stop();
  await db?.drop();
});

const notificationFor = (customerId: string, causeEventId = randomUUID()) =>
  newEvent('notification.requested', {
    customerId,
    orderId: randomUUID(),
    productId: null,
    causeEventId,
    kind: 'order.placed',
    message: 'Your order is reserved; pay to confirm it.',
  });
const recorded = async (customerId: string) =>
  (
    await request(notifier.app)
      .get('/notifications')
      .set(await as(customerId))
  ).body.items as { channel: string }[];

describe('notification delivery', () => {
  it('records a notification once when the same cause is enqueued twice under different job ids; the webhook sees one key', async () => {
    const job = notificationFor('n-once');
    await notifier.queue.add('notify', job, {
      ...NOTIFICATION_JOB_OPTIONS,
      jobId: jobIds.notification(job.data.causeEventId, 'n-once'),
    });
    await notifier.queue.add(
      'notify',
      { ...job, id: randomUUID() },
      { ...NOTIFICATION_JOB_OPTIONS, jobId: `again-${randomUUID()}` },
    );
    await waitFor(async () => ((await notifier.queue.getJobCounts('completed')).completed ?? 0) >= 2, {
      description: 'both jobs',
    });
    expect(await recorded('n-once')).toEqual([expect.objectContaining({ channel: 'webhook' })]);
    // Two jobs ran at once: both may reach the webhook (check, send, record), always with the
    // same Idempotency-Key for the receiver to de-duplicate; the record is written once.
    const keys = sink.received.filter((r) => r.body.customerId === 'n-once').map((r) => r.key);
    expect(new Set(keys)).toEqual(new Set([`${job.data.causeEventId}:n-once`]));
    expect(await host.metrics.registry.metrics()).toMatch(/notifications_total\{outcome="duplicate"[^}]*\} 1/);
  });

  it('writes the records of jobs worked at once in one INSERT, each once: a repeat in the same batch is a duplicate', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    let inserts = 0;
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      inserts++;
      return query(...args);
    };
    try {
      const store = new NotificationStore(pool);
      const jobs = Array.from({ length: 20 }, (_, i) => notificationFor(`batch-${i % 5}`));
      const repeated = jobs[3]!;
      const results = await Promise.all([...jobs, repeated, repeated].map((job) => store.record(job, 'record')));
      expect(results.slice(0, 20)).toEqual(Array(20).fill(true));
      expect(results.slice(20)).toEqual([false, false]);
      expect(inserts).toBe(1);
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM notifications WHERE customer_id LIKE 'batch-%'");
      expect(rows[0].n).toBe(20);
      // Recorded before: a later batch answers duplicate too.
      expect(await store.record(repeated, 'record')).toBe(false);
    } finally {
      await pool.end();
    }
  });

  it('retries a failing webhook with backoff and delivers exactly once, with an Idempotency-Key', async () => {
    sink.answer([503, 503]);
    const job = notificationFor('n-retry');
    const id = jobIds.notification(job.data.causeEventId, 'n-retry');
    await notifier.queue.add('notify', job, { ...NOTIFICATION_JOB_OPTIONS, jobId: id });
    await waitFor(async () => (await recorded('n-retry')).length === 1, { timeoutMs: 10_000, description: 'the delivery' });
    expect((await notifier.queue.getJob(id))?.attemptsMade).toBe(3);
    expect(sink.received.filter((r) => r.body.customerId === 'n-retry').map((r) => r.key)).toEqual([
      `${job.data.causeEventId}:n-retry`,
    ]);
  });

  it('dead-letters a job after its last attempt, lists it, and re-drives it to delivery', async () => {
    sink.answer([500, 500]);
    const job = notificationFor('n-dead');
    const id = jobIds.notification(job.data.causeEventId, 'n-dead');
    await notifier.queue.add('notify', job, {
      attempts: 2,
      backoff: { type: 'fixed', delay: 50 },
      jobId: id,
      removeOnFail: false,
    });
    await waitFor(async () => (await notifier.queue.getJob(id))?.isFailed(), { description: 'the job to run out of attempts' });
    const admin = await as('admin');
    // Dead letters are the admin's: 401 without a token, 403 for a customer (even the one they are about).
    expect((await request(notifier.app).get('/dead-letters')).status).toBe(401);
    expect(
      (
        await request(notifier.app)
          .get('/dead-letters')
          .set(await as('n-dead'))
      ).status,
    ).toBe(403);
    expect(
      (
        await request(notifier.app)
          .post(`/dead-letters/${encodeURIComponent(id)}/retry`)
          .set(await as('n-dead'))
      ).status,
    ).toBe(403);
    expect(await notifier.queue.getJob(id).then((j) => j?.isFailed())).toBe(true);
    const dead = await request(notifier.app).get('/dead-letters').set(admin);
    expect(dead.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ id, attemptsMade: 2 })]));
    expect(await recorded('n-dead')).toEqual([]);
    const retry = await request(notifier.app)
      .post(`/dead-letters/${encodeURIComponent(id)}/retry`)
      .set(admin);
    expect(retry.status).toBe(202);
    await waitFor(async () => (await recorded('n-dead')).length === 1, { description: 'the re-driven delivery' });
    const absent = jobIds.notification(randomUUID(), 'n-nobody');
    expect((await request(notifier.app).post(`/dead-letters/${absent}/retry`).set(admin)).status).toBe(404);
    // Names of the queue's other keys (once WRONGTYPE, a 500) are not job ids: 400 naming the rule.
    for (const key of ['meta', 'events', 'wait', 'id']) {
      const res = await request(notifier.app).post(`/dead-letters/${key}/retry`).set(admin);
      expect(res.status, key).toBe(400);
      expect(res.body.errors[0].path).toBe('params.id');
    }
  });
});

describe('watches', () => {
  it('notifies each watcher once when a product’s price drops on pub/sub, and ignores a rise', async () => {
    for (const customerId of ['w-1', 'w-2']) {
      const res = await request(notifier.app)
        .post('/watches')
        .set(await as(customerId))
        .send({ productId: 'sku-watched' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ customerId, productId: 'sku-watched' });
    }
    expect(
      (
        await request(notifier.app)
          .post('/watches')
          .set(await as('w-1'))
          .send({})
      ).status,
    ).toBe(400);
    const events = await host.events();
    const update = (priceCents: number, previousPriceCents: number) =>
      events.publish(newEvent('product.updated', { productId: 'sku-watched', version: 2, priceCents, previousPriceCents }));
    await update(1200, 1000);
    await update(800, 1200);
    await waitFor(async () => (await recorded('w-1')).length === 1 && (await recorded('w-2')).length === 1, {
      description: 'one price-drop notification per watcher',
    });
    const kinds = sink.received
      .filter((r) => r.body.productId === 'sku-watched')
      .map((r) => `${r.body.customerId} ${r.body.kind}`);
    expect(kinds.sort()).toEqual(['w-1 price.dropped', 'w-2 price.dropped']);
  });
});

describe('who may list notifications and add watches', () => {
  it("lists only the caller's own notifications; naming another customer is 403; an admin names anyone", async () => {
    await notifier.queue.add('notify', notificationFor('own-a'), { ...NOTIFICATION_JOB_OPTIONS });
    await waitFor(async () => (await recorded('own-a')).length === 1, { description: 'own-a notified' });
    expect((await request(notifier.app).get('/notifications')).status).toBe(401);
    expect(
      (
        await request(notifier.app)
          .get('/notifications')
          .set(await as('own-b'))
      ).body.items,
    ).toEqual([]);
    const snoop = await request(notifier.app)
      .get('/notifications?customerId=own-a')
      .set(await as('own-b'));
    expect(snoop.status).toBe(403);
    expect(
      (
        await request(notifier.app)
          .get('/notifications?customerId=own-a')
          .set(await as('admin'))
      ).body.items,
    ).toHaveLength(1);
    expect(
      (
        await request(notifier.app)
          .get('/notifications')
          .set(await as('admin'))
      ).status,
    ).toBe(400);
  });

  it('adds watches for the token’s customer only (401 without one), limited per customer with 429', async () => {
    expect((await request(notifier.app).post('/watches').send({ productId: 'sku-x' })).status).toBe(401);
    const body = await request(notifier.app)
      .post('/watches')
      .set(await as('w-any'))
      .send({ customerId: 'w-victim', productId: 'sku-x' });
    expect(body.status).toBe(400);
    expect(body.body.errors[0].path).toBe('body.customerId');
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (
          await request(notifier.app)
            .post('/watches')
            .set(await as('w-greedy'))
            .send({ productId: `sku-${i}` })
        ).status,
      );
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
  });
});

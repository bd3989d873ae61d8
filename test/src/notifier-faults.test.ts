import { randomUUID } from 'node:crypto';
import { waitFor } from '@storefront/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';
import { startWebhookSink } from './webhook-sink.js';

let stack: Stack;
let sink: Awaited<ReturnType<typeof startWebhookSink>>;
beforeAll(async () => {
  sink = await startWebhookSink();
  stack = await startStack({
    env: {
      notifier: {
        NOTIFY_WEBHOOK_URL: sink.url,
        // Slow enough that a kill lands mid-batch; a dead worker's jobs are retried after 1 s.
        NOTIFY_RATE_PER_SECOND: '15',
        NOTIFY_STALLED_INTERVAL: '1s',
      },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await sink?.close();
});

const placeOrders = async (count: number, productId: string, customerPrefix = 'n') => {
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => stack.placeOrder(i, `${customerPrefix}-${i}`, [{ productId, quantity: 1 }])),
  );
  expect(results.every((r) => r.status === 201)).toBe(true);
  return results.map((r) => r.body.id as string);
};
const placedKeysFor = (orderIds: string[]) =>
  new Set(
    sink.requests.filter((r) => orderIds.includes(String(r.body.orderId)) && r.body.kind === 'order.placed').map((r) => r.key),
  );
const notificationRows = async (orderIds: string[]) => {
  const client = new pg.Client({ connectionString: stack.dbs.notifier.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ order_id: string; n: number }>(
      "SELECT order_id, count(*)::int AS n FROM notifications WHERE kind = 'order.placed' AND order_id = ANY($1) GROUP BY order_id",
      [orderIds],
    );
    return rows;
  } finally {
    await client.end();
  }
};

describe('notifier faults', () => {
  it('delivers every order’s notification exactly once when the notifier is SIGKILLed mid-batch and restarted', async () => {
    const id = `kill-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 100);
    const orderIds = await placeOrders(40, id);
    await waitFor(() => placedKeysFor(orderIds).size >= 5, { description: 'some deliveries before the kill' });
    await stack.notifier.stop('SIGKILL');
    const deliveredBeforeKill = placedKeysFor(orderIds).size;
    expect(deliveredBeforeKill).toBeLessThan(40); // the kill really was mid-batch
    await stack.restartNotifier();
    await waitFor(async () => (await notificationRows(orderIds)).length === 40, {
      timeoutMs: 30_000,
      description: 'all 40 recorded',
    });
    const rows = await notificationRows(orderIds);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    // The customer's endpoint saw each order once (by idempotency key); a job interrupted
    // between the webhook call and its record may have been sent again with the same key.
    expect(placedKeysFor(orderIds).size).toBe(40);
  }, 60_000);

  it('delivers once after the webhook fails twice and then succeeds', async () => {
    const id = `flaky-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 10);
    sink.setBehaviour((_key, attempt) => (attempt <= 2 ? 503 : 200));
    try {
      const [orderId] = await placeOrders(1, id);
      await waitFor(async () => (await notificationRows([orderId!])).length === 1, {
        timeoutMs: 15_000,
        description: 'delivery',
      });
      const seen = sink.requests.filter((r) => r.body.orderId === orderId && r.body.kind === 'order.placed');
      expect(seen.map((r) => r.status)).toEqual([503, 503, 200]);
    } finally {
      sink.setBehaviour(() => 200);
    }
  }, 30_000);

  it('dead-letters a notification the webhook always refuses, and delivers it when retried', async () => {
    const id = `dead-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 10);
    const customer = `dead${randomUUID().slice(0, 6)}`;
    // Delivery keys are `<cause event id>:<customer id>`: refuse everything for this customer.
    sink.setBehaviour((key) => (key.endsWith(`:${customer}-0`) ? 500 : 200));
    const [orderId] = (await placeOrders(1, id, customer)) as [string];
    const deadLetter = await waitFor(
      async () => {
        const { body } = await get(`${stack.notifier.baseUrl}/dead-letters`, await stack.auth('admin'));
        return body.items.find((d: { data: { data: { orderId: string } } }) => d.data.data.orderId === orderId);
      },
      { timeoutMs: 30_000, description: 'dead letter after the last attempt' },
    );
    expect(deadLetter.attemptsMade).toBe(5);
    expect(deadLetter.failedReason).toMatch(/webhook answered 500/);
    expect(await notificationRows([orderId])).toEqual([]);

    sink.setBehaviour(() => 200);
    const admin = await stack.auth('admin');
    const retry = await post(`${stack.notifier.baseUrl}/dead-letters/${encodeURIComponent(deadLetter.id)}/retry`, {}, admin);
    expect(retry.status).toBe(202);
    await waitFor(async () => (await notificationRows([orderId])).length === 1, {
      timeoutMs: 15_000,
      description: 're-driven delivery',
    });
    const after = await get(`${stack.notifier.baseUrl}/dead-letters`, await stack.auth('admin'));
    expect(after.body.items.some((d: { id: string }) => d.id === deadLetter.id)).toBe(false);
    const absent = 'notify-00000000-0000-4000-8000-000000000000-nobody';
    expect((await post(`${stack.notifier.baseUrl}/dead-letters/${absent}/retry`, {}, admin)).status).toBe(404);
    // Not a job id at all (BullMQ would read another key of the queue: WRONGTYPE, once a 500).
    expect((await post(`${stack.notifier.baseUrl}/dead-letters/meta/retry`, {}, admin)).status).toBe(400);
  }, 60_000);
});

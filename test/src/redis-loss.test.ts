import { jobIds, queueKey, queues } from '@storefront/contracts';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type Stack, startStack } from './stack.js';

/**
 * Order's data-loss check on the running shop. Notification jobs are published (their outbox
 * rows marked published) while the notifier is stopped, so they wait in Redis; Redis is then
 * replaced by an empty server. Order notices (its marker is gone), relays the recent outbox
 * rows again, and once the notifier is back every order is notified exactly once and every
 * unpaid order has its expiry job again. A restart from the AOF, which kept the data,
 * re-drives nothing.
 */
const PRODUCT = 'rl-a';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    redisConfig: ['appendonly yes'],
    env: { order: { ORDER_REDIS_LOSS_CHECK_INTERVAL: '300ms' } },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** A counter of order's, summed over both instances, from the lines of `name` that contain `labels`. */
const orderCounter = async (name: string, labels: string) => {
  let sum = 0;
  for (const o of stack.order) {
    const text = await (await fetch(`${o.baseUrl}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
};
const checks = (outcome: string) => orderCounter('redis_data_loss_checks_total', `outcome="${outcome}"`);
const redriven = () => orderCounter('sweeper_resolved_total', 'sweeper="order-redis-loss"');
const outboxDrained = async () =>
  (await stack.count('order', 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0;
const notified = (orderId: string, kind: string) =>
  stack.count('notifier', 'SELECT count(*) AS n FROM notifications WHERE order_id = $1 AND kind = $2', [orderId, kind]);
const waiting = () => stack.redis.llen(queueKey(queues.notifications, 'wait'));
const expiryQueued = (orderId: string) =>
  stack.redis.zscore(queueKey(queues.orderExpiry, 'delayed'), jobIds.orderExpiry(orderId));
/** Both order instances checked at least twice more than `before` (so each saw the Redis as it is now). */
const checkedAgain = async (before: number) => (await checks('present')) + (await checks('missing')) >= before + 4;

describe('order notices a Redis that lost its data', () => {
  it('re-drives its recent outbox after an empty restart (jobs back, every order notified exactly once), and nothing after an AOF restart', async () => {
    await stack.createProduct(PRODUCT, 100);
    // A fresh Redis holds no marker: exactly one instance reported it (and re-drove an empty outbox).
    await waitFor(async () => (await checks('present')) >= 2, { description: 'both instances checked' });
    expect(await checks('missing')).toBe(1);

    // The notifier is away: the jobs of these orders wait in Redis after their rows are published.
    await stack.notifier.stop('SIGTERM');
    const orders: { id: string; customer: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const customer = `rl-c${i}`;
      const res = await stack.placeOrder(i, customer, [{ productId: PRODUCT, quantity: 1 }]);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      orders.push({ id: res.body.id as string, customer });
    }
    for (const o of orders.slice(0, 2)) {
      expect((await post(`${stack.order[0]!.baseUrl}/orders/${o.id}/pay`, {}, await stack.auth(o.customer))).status).toBe(200);
    }
    await waitFor(outboxDrained, { description: 'outbox published' });
    await waitFor(async () => (await waiting()) === 6, { description: '4 placed + 2 paid notification jobs waiting' });

    // Restarted from its AOF: the data is there; no instance reports a loss, nothing is re-driven.
    await stack.restartRedis();
    let seen = (await checks('present')) + (await checks('missing'));
    await waitFor(() => checkedAgain(seen), { description: 'both instances checked the restarted Redis' });
    expect(await checks('missing')).toBe(1);
    expect(await redriven()).toBe(0);
    expect(await waiting()).toBe(6);

    // Replaced by an empty server: the waiting jobs and the delayed expiry jobs are gone.
    await stack.restartRedis({ empty: true });
    seen = (await checks('present')) + (await checks('missing'));
    await waitFor(async () => (await checks('missing')) === 2, { description: 'the loss noticed', timeoutMs: 15_000 });
    await waitFor(() => checkedAgain(seen), { description: 'both instances checked the empty Redis' });
    // Exactly one instance noticed, and it handed back every row of these orders (6 events).
    expect(await checks('missing')).toBe(2);
    expect(await redriven()).toBeGreaterThanOrEqual(6);
    await waitFor(outboxDrained, { description: 'the re-driven rows relayed' });
    expect(await waiting()).toBe(6);
    for (const o of orders.slice(2)) expect(await expiryQueued(o.id), o.id).not.toBeNull();

    // The notifier back: every order notified exactly once, the paid ones paid once.
    await stack.restartNotifier();
    await waitFor(
      async () => {
        for (const o of orders) if ((await notified(o.id, 'order.placed')) === 0) return false;
        return (await waiting()) === 0;
      },
      { description: 'every order notified', timeoutMs: 20_000 },
    );
    for (const o of orders) expect(await notified(o.id, 'order.placed'), o.id).toBe(1);
    for (const o of orders.slice(0, 2)) expect(await notified(o.id, 'order.paid'), o.id).toBe(1);
    // The shop works on: exact stock.
    const next = await stack.placeOrder(0, 'rl-c9', [{ productId: PRODUCT, quantity: 1 }]);
    expect(next.status).toBe(201);
    expect(await stack.stockOf(PRODUCT)).toBe(100 - 5);
  }, 120_000);
});

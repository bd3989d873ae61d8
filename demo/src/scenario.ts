import { randomUUID } from 'node:crypto';
import { waitFor } from '@storefront/testing';
import { call } from './http.js';
import type { Supervisor } from './supervisor.js';

/** Poll `probe` until it returns a value (the harness's waitFor), naming what was awaited. */
const until = <T>(description: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) =>
  waitFor(probe, { description, timeoutMs, intervalMs: 100 });

/** What one step showed. */
export interface StepResult {
  step: string;
  claim: string;
  figures: string;
  ok: boolean;
}

/** What the steps need. */
export interface ScenarioContext {
  supervisor: Supervisor;
  url: (instance: string) => string;
  adminToken: string;
  /** A customer's bearer token, from the demo's identity provider. */
  tokenFor: (customerId: string) => Promise<string>;
  registryTtlMs: number;
  say: (line: string) => void;
  /** Live instances of a service in the registry, as discovery sees them. */
  registered: (service: 'catalog' | 'order' | 'notifier') => string[];
  /** The trace id of the last order a step placed (from its `traceresponse`), for the link the demo prints. */
  lastOrderTrace?: string;
}

const admin = (ctx: ScenarioContext) => ({ authorization: `Bearer ${ctx.adminToken}` });
/** The `authorization` header of a customer: orders act for the token's subject. */
const as = async (ctx: ScenarioContext, customerId: string) => ({ authorization: `Bearer ${await ctx.tokenFor(customerId)}` });
const order = async (
  ctx: ScenarioContext,
  instance: string,
  customerId: string,
  productId: string,
  key = `demo-${randomUUID()}`,
) => {
  const answer = await call(
    'POST',
    `${ctx.url(instance)}/orders`,
    { items: [{ productId, quantity: 1 }] },
    { 'idempotency-key': key, ...(await as(ctx, customerId)) },
  );
  const traceId = /^00-([0-9a-f]{32})-/.exec(answer.headers.get('traceresponse') ?? '')?.[1];
  if (answer.status === 201 && traceId) ctx.lastOrderTrace = traceId;
  return answer;
};
/** Spread requests over both order instances. */
const orderInstance = (i: number) => (i % 2 === 0 ? 'order-1' : 'order-2');
const liveCatalog = (ctx: ScenarioContext) => (ctx.supervisor.isRunning('catalog-1') ? 'catalog-1' : 'catalog-2');
const stockOf = async (ctx: ScenarioContext, productId: string) =>
  (await call('GET', `${ctx.url(liveCatalog(ctx))}/products/${productId}`)).body.stock as number;
/**
 * Stock as catalog serves it, once it shows `expected` (or after 3 s, whatever it shows).
 * A read on one instance right after a write on the other can be one pub/sub hop behind.
 */
const settledStock = async (ctx: ScenarioContext, productId: string, expected: number) =>
  until(
    `stock of ${productId} to read ${expected}`,
    async () => {
      const s = await stockOf(ctx, productId);
      return s === expected ? s : undefined;
    },
    3000,
  ).catch(() => stockOf(ctx, productId));
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

/** The products the demo sells. */
export const PRODUCTS = [
  { id: 'espresso-beans', name: 'Espresso beans 1 kg', priceCents: 2490, stock: 500 },
  { id: 'pour-over-kettle', name: 'Pour-over kettle', priceCents: 5900, stock: 500 },
  { id: 'ceramic-mug', name: 'Ceramic mug', priceCents: 1200, stock: 500 },
  { id: 'grinder', name: 'Burr grinder', priceCents: 14900, stock: 500 },
  { id: 'limited-sneaker', name: 'Limited sneaker (flash sale)', priceCents: 19900, stock: 25 },
  { id: 'gift-card', name: 'Gift card', priceCents: 5000, stock: 10 },
] as const;

export const seed = async (ctx: ScenarioContext): Promise<void> => {
  for (const product of PRODUCTS) {
    const res = await call('POST', `${ctx.url('catalog-1')}/products`, product, admin(ctx));
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`seeding ${product.id}: ${res.status} ${JSON.stringify(res.body)}`);
  }
};

type Step = (ctx: ScenarioContext) => Promise<StepResult>;

const cache: Step = async (ctx) => {
  const id = 'grinder';
  const tiers: string[] = [];
  for (const instance of ['catalog-1', 'catalog-1', 'catalog-2']) {
    tiers.push((await call('GET', `${ctx.url(instance)}/products/${id}`)).headers.get('x-cache') ?? '?');
  }
  ctx.say(`reads: catalog-1 ${tiers[0]}, catalog-1 ${tiers[1]}, catalog-2 ${tiers[2]}`);
  await call('GET', `${ctx.url('catalog-2')}/products/${id}`); // now in catalog-2's L1 too
  await call('PATCH', `${ctx.url('catalog-1')}/products/${id}`, { priceCents: 12900 }, admin(ctx));
  // The invalidation travels over pub/sub while the PATCH answers: catalog-2 drops its L1 copy
  // when the message arrives, usually before the next request; a read that overtakes it is
  // served the old price. Read until the new price shows, for at most a second.
  const changed = performance.now();
  let after: number;
  let reads = 0;
  do {
    after = (await call('GET', `${ctx.url('catalog-2')}/products/${id}`)).body.priceCents;
    reads++;
    if (after !== 12900) await new Promise((r) => setTimeout(r, 10));
  } while (after !== 12900 && performance.now() - changed < 1_000);
  const tookMs = Math.round(performance.now() - changed);
  ctx.say(`price changed on catalog-1 to 129.00; catalog-2 serves ${(after / 100).toFixed(2)} (read ${reads}×, ${tookMs} ms)`);
  return {
    step: 'cache',
    claim: 'miss → L1 hit → L2 on the other instance; a price change reaches the other instance within a second',
    figures: `tiers ${tiers.join('/')}, price seen by catalog-2: ${after} after ${tookMs} ms (${reads} read${reads === 1 ? '' : 's'})`,
    ok: tiers.join() === 'miss,l1,l2' && after === 12900,
  };
};

const flashSale: Step = async (ctx) => {
  const id = 'limited-sneaker';
  const before = await stockOf(ctx, id);
  const buyers = 150;
  ctx.say(`${buyers} customers buy the last ${before} sneakers at once, spread over order-1 and order-2…`);
  const started = performance.now();
  // Each winner pays as soon as its order is placed, as a buyer would: an order left unpaid
  // past the payment deadline (6 s in the demo) expires and its sneaker goes back on sale,
  // which on a loaded machine would happen while the burst is still running.
  const answers = await Promise.all(
    Array.from({ length: buyers }, async (_, i) => {
      const placed = await order(ctx, orderInstance(i), `fan-${i}`, id);
      const paid =
        placed.status === 201
          ? await call(
              'POST',
              `${ctx.url(orderInstance(i + 1))}/orders/${placed.body.id}/pay`,
              undefined,
              await as(ctx, `fan-${i}`),
            )
          : undefined;
      return { status: placed.status, paid: paid?.status === 200 };
    }),
  );
  const ms = Math.round(performance.now() - started);
  const statuses = answers.map((a) => a.status);
  const paid = answers.filter((a) => a.paid).length;
  const after = await settledStock(ctx, id, 0);
  return {
    step: 'flash sale',
    claim: `exactly ${before} sold, no oversell, the rest told "insufficient stock"`,
    figures: `${count(statuses, 201)} × 201 (${paid} paid), ${count(statuses, 409)} × 409, other ${buyers - count(statuses, 201) - count(statuses, 409)}; stock ${before} → ${after}; ${ms} ms`,
    ok: count(statuses, 201) === before && paid === before && count(statuses, 409) === buyers - before && after === 0,
  };
};

const idempotentRetry: Step = async (ctx) => {
  const key = `retry-${randomUUID()}`;
  const before = await stockOf(ctx, 'ceramic-mug');
  ctx.say('a client retries one order 10 times with the same Idempotency-Key, concurrently…');
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => order(ctx, orderInstance(i), 'retrying-customer', 'ceramic-mug', key)),
  );
  const ids = new Set(answers.map((a) => a.body?.id));
  const after = await settledStock(ctx, 'ceramic-mug', before - 1);
  return {
    step: 'idempotent retry',
    claim: 'one order, every caller gets the same answer',
    figures: `${answers.filter((a) => a.status === 201).length} × 201, ${ids.size} distinct order id, stock ${before} → ${after}`,
    ok: answers.every((a) => a.status === 201) && ids.size === 1 && after === before - 1,
  };
};

const notifierCrash: Step = async (ctx) => {
  const n = 40;
  ctx.say(`${n} orders queue ${n} notifications; the notifier is killed mid-queue and restarted…`);
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => order(ctx, orderInstance(i), `buyer-${i}`, 'espresso-beans')),
  );
  const orderIds = answers.filter((a) => a.status === 201).map((a) => a.body.id as string);
  const delivered = async () => {
    const counts = await Promise.all(
      orderIds.map(async (id) => {
        const res = await call('GET', `${ctx.url('notifier')}/notifications?orderId=${id}`, undefined, admin(ctx));
        return (res.body.items as { kind: string }[]).filter((x) => x.kind === 'order.placed').length;
      }),
    );
    return counts;
  };
  await until('a few deliveries before the kill', async () => (await delivered()).filter((c) => c > 0).length >= 3);
  await ctx.supervisor.kill('notifier');
  ctx.say('notifier killed (SIGKILL); restarting…');
  await ctx.supervisor.start('notifier');
  const counts = await until(
    'every notification',
    async () => {
      const c = await delivered();
      return c.every((x) => x > 0) ? c : undefined;
    },
    60_000,
  );
  return {
    step: 'notifier crash',
    claim: 'no notification lost or doubled across a crash',
    figures: `${orderIds.length} orders → ${counts.filter((c) => c === 1).length} delivered exactly once, ${counts.filter((c) => c > 1).length} twice`,
    ok: orderIds.length === n && counts.every((c) => c === 1),
  };
};

const catalogFailover: Step = async (ctx) => {
  const victim = ctx.supervisor.instanceId('catalog-1') ?? '';
  ctx.say(`catalog-1 (${victim}) is killed; orders keep coming…`);
  await ctx.supervisor.kill('catalog-1');
  const killedAt = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 15 }, (_, i) => order(ctx, orderInstance(i), `steady-${i}`, 'pour-over-kettle')),
  );
  const gone = await until(
    'catalog-1 to leave the registry',
    async () => (ctx.registered('catalog').includes(victim) ? undefined : Date.now() - killedAt),
    ctx.registryTtlMs * 3,
  );
  ctx.say(`catalog-1 left discovery after ${gone} ms (TTL ${ctx.registryTtlMs} ms); restarting it`);
  await ctx.supervisor.start('catalog-1');
  return {
    step: 'catalog instance killed',
    claim: 'orders keep succeeding through catalog-2; the dead instance leaves discovery within its TTL',
    figures: `${answers.filter((a) => a.status === 201).length}/15 orders 201; gone from registry after ${gone} ms (TTL ${ctx.registryTtlMs})`,
    ok: answers.every((a) => a.status === 201) && gone <= ctx.registryTtlMs + 1000,
  };
};

const expiry =
  (paymentTimeoutMs: number): Step =>
  async (ctx) => {
    const id = 'gift-card';
    const before = await stockOf(ctx, id);
    const placed = await order(ctx, 'order-1', 'forgetful-customer', id);
    ctx.say(`an order is placed and never paid; it expires after ${paymentTimeoutMs / 1000} s…`);
    const during = await settledStock(ctx, id, before - 1);
    await until(
      'the order to expire',
      async () =>
        (await call('GET', `${ctx.url('order-2')}/orders/${placed.body.id}`, undefined, await as(ctx, 'forgetful-customer'))).body
          .status === 'expired',
      paymentTimeoutMs + 20_000,
    );
    const after = await until('its stock to return', async () => {
      const s = await stockOf(ctx, id);
      return s === before ? s : undefined;
    });
    return {
      step: 'unpaid order expires',
      claim: 'the delayed job expires it and its stock returns',
      figures: `stock ${before} → ${during} (reserved) → ${after} (released)`,
      ok: placed.status === 201 && during === before - 1 && after === before,
    };
  };

const rankings: Step = async (ctx) => {
  const fans = ['fan-1', 'fan-2', 'fan-3'];
  ctx.say('three customers watch the grinder (one of them twice), one the mug; catalog serves the rankings…');
  for (const [customer, productId] of [...fans.map((f) => [f, 'grinder']), ['fan-1', 'grinder'], ['fan-4', 'ceramic-mug']]) {
    await call('POST', `${ctx.url('notifier')}/watches`, { productId }, await as(ctx, customer!));
  }
  const read = async () =>
    (await call('GET', `${ctx.url(liveCatalog(ctx))}/rankings?window=15&limit=3`)).body as {
      bestSelling: { productId: string; score: number }[];
      mostWatched: { productId: string; score: number }[];
      ordersPerMinute: { placed: number }[];
    };
  // Order's outbox relay records each order event in the rankings a moment after the answer.
  const r = await until('the rankings to show the scenario', async () => {
    const now = await read();
    return now.bestSelling[0]?.productId === 'espresso-beans' && now.mostWatched.length >= 2 ? now : undefined;
  }).catch(read);
  const placed = r.ordersPerMinute.reduce((n, m) => n + m.placed, 0);
  const watched = Object.fromEntries(r.mostWatched.map((m) => [m.productId, m.score]));
  const top = r.bestSelling.map((b) => `${b.productId} ${b.score}`).join(', ');
  return {
    step: 'live rankings',
    claim: 'best-selling and most-watched from the events, each counted once (a watch made twice counts once)',
    figures: `best-selling: ${top}; watched: grinder ${watched.grinder ?? 0}, mug ${watched['ceramic-mug'] ?? 0}; ${placed} orders in 15 min`,
    ok: r.bestSelling[0]?.productId === 'espresso-beans' && watched.grinder === 3 && watched['ceramic-mug'] === 1 && placed > 0,
  };
};

/** The scenario, in order. */
export const steps = (paymentTimeoutMs: number): Record<string, Step> => ({
  cache,
  'flash-sale': flashSale,
  'idempotent-retry': idempotentRetry,
  'notifier-crash': notifierCrash,
  'catalog-failover': catalogFailover,
  expiry: expiry(paymentTimeoutMs),
  rankings,
});

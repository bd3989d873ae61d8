import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, infoFields, stopChild, track, waitFor } from '@storefront/testing';
import pg from 'pg';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { answersWith, type LoadResult, load, otherAnswers } from './load.js';
import { cpuDuring, cpuOfLiving } from './process-cpu.js';
import { median } from './stats.js';

const bareServer = fileURLToPath(new URL('./bare-server.js', import.meta.url));
const stackServer = fileURLToPath(new URL('./stack-server.js', import.meta.url));
const nodeServer = fileURLToPath(new URL('./node-server.js', import.meta.url));

/** Start a ceiling server (bare Express by default, or `script`) answering `body`; resolves once it answers. */
const startCeiling = async (body: string, script = bareServer) => {
  const port = await freePort();
  const child = track(spawn(process.execPath, [script, String(port), body], { stdio: 'ignore' }));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health/live`)).ok, { description: `ceiling server ${script}` });
  return { url, stop: () => stopChild(child) };
};

const summarize = (runs: LoadResult[]) => ({
  rps: median(runs.map((r) => r.rps)),
  p99: median(runs.map((r) => r.p99)),
  p50: median(runs.map((r) => r.p50)),
});
const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/**
 * Product reads: catalog serving from L1, from Redis (L1 off), and from Postgres (cache
 * off), each against a bare Express app returning the same JSON, and that bare app against
 * Node's own `node:http` server returning it (what Express itself costs). Targets are driven
 * in turn (node, bare, stack, L1, L2, off, node, …), rounds × each, after a warm-up; medians reported.
 */
export const productReads = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const db = await env.database('bench_catalog');
  const l1 = await env.service('catalog', { DATABASE_URL: db.url, CACHE_TTL_MS: '600000', CACHE_L1_TTL_MS: '600000' });
  const l2 = await env.service('catalog', { DATABASE_URL: db.url, CACHE_TTL_MS: '600000', CACHE_L1_TTL_MS: '0' });
  const off = await env.service('catalog', { DATABASE_URL: db.url, CATALOG_CACHE: 'off' });
  const create = await fetch(`${l1.baseUrl}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...env.admin },
    body: JSON.stringify({
      id: 'bench-product',
      name: 'Bench product',
      description: 'x'.repeat(200),
      priceCents: 1999,
      stock: 10,
    }),
  });
  if (create.status !== 201) throw new Error(`seed: ${create.status}`);
  const body = await (await fetch(`${l1.baseUrl}/products/bench-product`)).text();
  const bare = await startCeiling(body);
  const stack = await startCeiling(body, stackServer);
  const node = await startCeiling(body, nodeServer);
  const targets = { node: node.url, bare: bare.url, stack: stack.url, l1: l1.baseUrl, l2: l2.baseUrl, off: off.baseUrl } as const;
  // Keyed by the targets' names: a target added without its series does not compile.
  const runs: Record<keyof typeof targets, LoadResult[]> = { node: [], bare: [], stack: [], l1: [], l2: [], off: [] };
  const connections = 32;
  for (const url of Object.values(targets)) {
    await load({ url: `${url}/products/bench-product`, connections, durationSeconds: 1 }); // warm-up
  }
  for (let round = 0; round < budget.rounds; round++) {
    for (const [name, url] of Object.entries(targets) as [keyof typeof targets, string][]) {
      const result = await load({ url: `${url}/products/bench-product`, connections, durationSeconds: budget.httpSeconds });
      runs[name].push(result);
      budget.log(
        `  reads round ${round + 1}/${budget.rounds} ${name.padEnd(4)} ${Math.round(result.rps)} req/s p99 ${result.p99} ms`,
      );
    }
  }
  await Promise.all([bare.stop(), stack.stop(), node.stop()]);
  // Deregister (SIGTERM) so the order benchmark's discovery finds only its own catalogs.
  await Promise.all([l1, l2, off].map((p) => p.stop('SIGTERM')));
  const [n, b, st, a1, a2, o] = [
    summarize(runs.node),
    summarize(runs.bare),
    summarize(runs.stack),
    summarize(runs.l1),
    summarize(runs.l2),
    summarize(runs.off),
  ];
  const errors = Object.values(runs)
    .flat()
    .reduce((n, r) => n + r.errors + (r.statusCounts['200'] === r.total ? 0 : 1), 0);
  const rL1 = ratio(a1.rps, b.rps);
  const pL1 = ratio(a1.p99, b.p99);
  const rL2 = ratio(a2.rps, b.rps);
  const rStack = ratio(st.rps, b.rps);
  return [
    {
      name: 'bare Express vs Node’s own HTTP server, constant JSON',
      measured: `bare Express ${Math.round(b.rps)} req/s, p99 ${b.p99} ms`,
      ceiling: `node:http ${Math.round(n.rps)} req/s, p99 ${n.p99} ms`,
      ratio: ratio(b.rps, n.rps),
      goal: 'what Express itself costs (the base every row below runs on); the load generator is not the limit',
      met: null,
      correct: errors === 0,
    },
    {
      name: 'service-kit HTTP stack, constant JSON',
      measured: `${Math.round(st.rps)} req/s, p99 ${st.p99} ms (request logs at info, metrics, helmet headers, request ids)`,
      ceiling: `bare Express ${Math.round(b.rps)} req/s, p99 ${b.p99} ms`,
      ratio: rStack,
      goal: '>= 0.85x req/s',
      met: rStack !== null && rStack >= 0.85,
      correct: errors === 0,
    },
    {
      name: 'GET /products/:id from L1',
      measured: `${Math.round(a1.rps)} req/s, p99 ${a1.p99} ms`,
      ceiling: `bare Express ${Math.round(b.rps)} req/s, p99 ${b.p99} ms`,
      ratio: rL1,
      // Issue 15's goal for an L1 read (the first table asked 0.90x and p99 <= 1.25x).
      goal: '>= 0.80x req/s, p99 <= 1.5x',
      met: rL1 !== null && pL1 !== null && rL1 >= 0.8 && pL1 <= 1.5,
      correct: errors === 0,
      note: `p99 ratio ${pL1?.toFixed(2)}`,
    },
    {
      name: 'GET /products/:id from L1, against the same HTTP stack',
      measured: `${Math.round(a1.rps)} req/s, p99 ${a1.p99} ms`,
      ceiling: `service-kit stack, constant JSON ${Math.round(st.rps)} req/s, p99 ${st.p99} ms (bare ${(st.rps / b.rps).toFixed(2)}x)`,
      ratio: ratio(a1.rps, st.rps),
      goal: 'separates the cache path from the middleware cost',
      met: null,
      correct: errors === 0,
    },
    {
      name: 'GET /products/:id from Redis (L1 off)',
      measured: `${Math.round(a2.rps)} req/s, p99 ${a2.p99} ms`,
      ceiling: `bare Express ${Math.round(b.rps)} req/s`,
      ratio: rL2,
      goal: '>= 0.80x req/s',
      met: rL2 !== null && rL2 >= 0.8,
      correct: errors === 0,
    },
    {
      name: 'GET /products/:id, cache off (Postgres)',
      measured: `${Math.round(o.rps)} req/s, p99 ${o.p99} ms`,
      ceiling: `L1 path ${Math.round(a1.rps)} req/s`,
      ratio: ratio(o.rps, a1.rps),
      goal: 'shows the cache’s gain',
      met: o.rps < a1.rps,
      correct: errors === 0,
      note: `the L1 cache serves ${(a1.rps / o.rps).toFixed(1)}x the Postgres path`,
    },
  ];
};

/**
 * The whole order flow (validate, idempotency, rate limit, one call to a catalog found through the registry that
 * reserves under locks, order + outbox) on 2 order + 2 catalog instances, load split over
 * both order instances, against the bare Express ceiling: once with every order on one
 * hot product (its lock serialises them), once spread over 50 products. Checks, once
 * requests still in flight have settled: stock taken = orders stored (no oversell, no
 * lost reservation), and stock never below zero.
 */
export const placeOrders = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const [catalogDb, orderDb] = [await env.database('bench_orders_catalog'), await env.database('bench_orders')];
  const catalogs = [
    await env.service('catalog', { DATABASE_URL: catalogDb.url }),
    await env.service('catalog', { DATABASE_URL: catalogDb.url }),
  ];
  const orderEnv = { DATABASE_URL: orderDb.url, ORDER_RATE_LIMIT_PER_MINUTE: '100000000', DISCOVERY_REFRESH_MS: '200' };
  const orders = [await env.service('order', orderEnv), await env.service('order', orderEnv)];
  const stock = 1_000_000;
  const products = ['hot', ...Array.from({ length: 50 }, (_, i) => `p${i}`)];
  for (const id of products) {
    const seed = await fetch(`${catalogs[0]!.baseUrl}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...env.admin },
      body: JSON.stringify({ id, name: `Bench ${id}`, priceCents: 500, stock }),
    });
    if (seed.status !== 201) throw new Error(`seed: ${seed.status}`);
  }
  const bare = await startCeiling('{"ok":true}');
  // Orders act for a token's subject: 100 customers (about 30 KB of tokens: an env var holds at most 128 KB), each
  // request one at random; the ceiling gets the same headers.
  const tokens = await env.customerTokens(100);
  // 32 clients, half on each order instance.
  const placeOrdersFor = (productIds: readonly string[], durationSeconds: number) =>
    Promise.all(
      orders.map((o) =>
        load({ url: o.baseUrl, connections: 16, durationSeconds, mode: 'orders', productIds: [...productIds], tokens }),
      ),
    );
  const warmUp = await warmUntilSteady(
    budget,
    [...orders, ...catalogs].map((p) => p.pid),
    placeOrdersFor,
    { hot: ['hot'], spread: products.slice(1) },
  );
  const rows: Row[] = [];
  // The commands Redis ran so far, and the Postgres backends serving the two databases now (their CPU is Postgres's share).
  const commandsSoFar = async () => Number((await infoFields(env.redis.port, 'stats')).total_commands_processed);
  const backends = async () => {
    const admin = new pg.Client({ connectionString: env.postgres.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [
        [catalogDb.name, orderDb.name],
      ]);
      return rows.map((r) => r.pid);
    } finally {
      await admin.end();
    }
  };
  // Issue 15's goals: the hot product's tail held; the spread case fast enough that 32 clients wait ≤ 200 ms.
  for (const [label, productIds, p99Goal] of [
    ['one hot product', ['hot'], 500],
    ['spread over 50 products', products.slice(1), 200],
  ] as const) {
    const flow: LoadResult[] = [];
    const ceiling: LoadResult[] = [];
    // Per placed order, each round: the CPU the four service processes used (order's, catalog's), the CPU of the
    // Postgres backends serving them, and the commands Redis ran.
    const perOrder: { order: number; catalog: number; postgres: number; commands: number }[] = [];
    for (let round = 0; round < budget.rounds; round++) {
      ceiling.push(
        await load({
          url: `${bare.url}/orders`,
          connections: 32,
          durationSeconds: budget.httpSeconds,
          mode: 'orders',
          productIds: ['x'],
          tokens,
        }),
      );
      const commandsBefore = await commandsSoFar();
      const postgresCpu = cpuOfLiving(await backends());
      const { result: halves, cpuMs } = await cpuDuring(
        { order: orders.map((p) => p.pid), catalog: catalogs.map((p) => p.pid) },
        () => placeOrdersFor(productIds, budget.httpSeconds),
      );
      const postgresMs = postgresCpu();
      const commands = (await commandsSoFar()) - commandsBefore;
      const made = answersWith('201', ...halves);
      const roundCost =
        cpuMs && made > 0
          ? { order: cpuMs.order / made, catalog: cpuMs.catalog / made, postgres: postgresMs / made, commands: commands / made }
          : undefined;
      if (roundCost) perOrder.push(roundCost);
      const otherText = otherAnswers('201', ...halves);
      flow.push({
        ...halves[0]!,
        rps: made / budget.httpSeconds,
        p50: Math.max(...halves.map((h) => h.p50)),
        p99: Math.max(...halves.map((h) => h.p99)),
      });
      budget.log(
        `  orders (${label}) round ${round + 1}/${budget.rounds}: ${Math.round(made / budget.httpSeconds)} orders/s (ceiling ${Math.round(ceiling.at(-1)!.rps)} req/s)${roundCost ? `, ${(roundCost.order + roundCost.catalog).toFixed(1)} ms CPU per order (Postgres ${roundCost.postgres.toFixed(1)})` : ''}${otherText ? `; also answered ${otherText}` : ''}`,
      );
    }
    const f = summarize(flow);
    const c = summarize(ceiling);
    const cost = perOrder.length
      ? `; per order ${median(perOrder.map((p) => p.order + p.catalog)).toFixed(1)} ms CPU (order ${median(perOrder.map((p) => p.order)).toFixed(1)}, catalog ${median(perOrder.map((p) => p.catalog)).toFixed(1)}; Postgres backends ${median(perOrder.map((p) => p.postgres)).toFixed(1)}), ${Math.round(median(perOrder.map((p) => p.commands)))} Redis commands (scripts' own included)`
      : '';
    rows.push({
      name: `POST /orders, 2 order + 2 catalog, ${label}`,
      measured: `${Math.round(f.rps)} orders/s, p50 ${f.p50} ms, p99 ${f.p99} ms${cost}`,
      ceiling: `bare Express ${Math.round(c.rps)} req/s`,
      ratio: ratio(f.rps, c.rps),
      goal: `p99 <= ${p99Goal} ms; zero oversell`,
      met: f.p99 <= p99Goal,
      correct: true,
    });
  }
  await bare.stop();
  const check = await stockMatchesOrders(catalogDb.url, orderDb.url, stock);
  for (const row of rows) {
    row.correct = check.ok;
    row.note = `${check.detail}; ${warmUp}`;
  }
  // Each suite stops what it started: services left running (relays, sweepers, heartbeats,
  // a worker on a shared queue) take CPU from the suites after them.
  await Promise.all([...orders, ...catalogs].map((p) => p.stop('SIGTERM')));
  return rows;
};

/**
 * Place orders until the services are warm, alternating the hot product and the spread
 * ones (each exercises its own code: lock combining, or many locks), 2 s a round: until
 * each kind's CPU per order fell by less than 8 % in each of its last two rounds, at most
 * 16 rounds. Fresh processes spend their first seconds in the JIT: measured 2026-12-07, CPU
 * per order fell from 10.2 to 5.0 ms over seven 3 s rounds of the hot product while orders/s
 * rose from 158 to 277, and a fixed 1 s warm-up left the first rounds measuring that
 * (docs/benchmarks.md, "Sixth look"). Without procfs (no CPU figures) two rounds. A quick
 * run warms for 1 s. Resolves with what it did, for the rows' note.
 */
const warmUntilSteady = async (
  budget: Budget,
  pids: number[],
  place: (productIds: readonly string[], seconds: number) => Promise<LoadResult[]>,
  kinds: { hot: string[]; spread: string[] },
): Promise<string> => {
  if (budget.quick) {
    await place(kinds.spread, 1);
    return 'warm-up 1 s';
  }
  const seconds = 2;
  const history: Record<'hot' | 'spread', number[]> = { hot: [], spread: [] };
  // Two flat steps in a row: one alone came mid-descent (2026-12-07: 6.7 → 6.5 ms ended a
  // warm-up whose measured rounds then ran at 4.1–6.0 ms).
  const flat = (costs: number[], i: number) => costs[i]! > costs[i - 1]! * 0.92;
  const steady = (costs: number[]) => costs.length >= 3 && flat(costs, costs.length - 1) && flat(costs, costs.length - 2);
  let rounds = 0;
  while (rounds < 16 && !(steady(history.hot) && steady(history.spread))) {
    const kind = rounds % 2 === 0 ? 'hot' : 'spread';
    const { result, cpuMs } = await cpuDuring({ services: pids }, () => place(kinds[kind], seconds));
    rounds++;
    const made = answersWith('201', ...result);
    if (!cpuMs || made === 0) {
      if (rounds >= 2) break;
      continue;
    }
    history[kind].push(cpuMs.services / made);
    budget.log(
      `  orders warm-up ${rounds} (${kind}): ${Math.round(made / seconds)} orders/s, ${history[kind].at(-1)!.toFixed(1)} ms CPU per order`,
    );
  }
  const trail = (kind: 'hot' | 'spread') =>
    history[kind].length ? `${kind} ${history[kind][0]!.toFixed(1)} → ${history[kind].at(-1)!.toFixed(1)} ms` : `${kind} —`;
  return `warm-up ${rounds} × ${seconds} s until CPU per order steadied (${trail('hot')}, ${trail('spread')})`;
};

/** Once in-flight requests settle: every unit of stock taken belongs to a stored order, and no stock is negative. */
const stockMatchesOrders = async (catalogUrl: string, orderUrl: string, initial: number) => {
  const [catalogDb, orderDb] = [new pg.Client({ connectionString: catalogUrl }), new pg.Client({ connectionString: orderUrl })];
  await Promise.all([catalogDb.connect(), orderDb.connect()]);
  try {
    const read = async () => {
      const stock = await catalogDb.query<{ taken: string; negative: string }>(
        'SELECT sum($1 - stock)::text AS taken, count(*) FILTER (WHERE stock < 0)::text AS negative FROM products',
        [initial],
      );
      const stored = await orderDb.query<{ n: string }>(
        "SELECT coalesce(sum((i->>'quantity')::int), 0)::text AS n FROM orders, jsonb_array_elements(items) i",
      );
      return {
        taken: Number(stock.rows[0]?.taken),
        negative: Number(stock.rows[0]?.negative),
        stored: Number(stored.rows[0]?.n),
      };
    };
    let last = await read();
    await waitFor(
      async () => {
        const now = await read();
        const settled = now.taken === last.taken && now.stored === last.stored;
        last = now;
        return settled && now.taken === now.stored;
      },
      { timeoutMs: 15_000, intervalMs: 500, description: 'stock and orders to settle' },
    ).catch(() => undefined);
    return {
      ok: last.taken === last.stored && last.negative === 0,
      detail: `stock taken ${last.taken} = units in stored orders ${last.stored}; products below zero: ${last.negative}`,
    };
  } finally {
    await Promise.all([catalogDb.end(), orderDb.end()]);
  }
};

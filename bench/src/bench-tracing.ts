import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, type ServiceProcess, startRedisServer, stopChild, track, waitFor } from '@storefront/testing';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { answersWith, type LoadResult, load, otherAnswers } from './load.js';
import { median } from './stats.js';

const sinkScript = fileURLToPath(new URL('./otlp-sink.js', import.meta.url));

const summarize = (runs: LoadResult[]) => ({
  rps: median(runs.map((r) => r.rps)),
  p99: median(runs.map((r) => r.p99)),
});
type Summary = ReturnType<typeof summarize>;

/**
 * What tracing costs: the read path (GET /products/:id from L1) and the order path (POST
 * /orders through order → catalog), each on services with tracing on — every span built,
 * batched and exported over OTLP/HTTP JSON to a sink — and on the same services with
 * `OTEL_SDK_DISABLED=true`, driven in turn (off, on, sampled, off, on, …) in one run. A
 * third setup samples one trace in ten (`parentbased_traceidratio`, 0.1; the sampled ones
 * exported): what the production answer to tracing's cost costs. The order setups use
 * separate Redis servers, so each order finds only its own catalog.
 */
export const tracingCost = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const sinkPort = await freePort();
  const sink = track(spawn(process.execPath, [sinkScript, String(sinkPort)], { stdio: 'ignore' }));
  const sinkUrl = `http://127.0.0.1:${sinkPort}`;
  await waitFor(async () => (await fetch(`${sinkUrl}/count`)).ok, { description: 'OTLP sink' });
  // A Redis of its own for each setup: on the bench's shared one, the registry may still list
  // catalogs of earlier suites (other databases), and the 'off' order would reserve there.
  const [offRedis, onRedis, sampledRedis] = await Promise.all(
    [0, 1, 2].map(() => startRedisServer({ config: ['maxmemory-policy noeviction'] })),
  );
  const modes: Record<'off' | 'on' | 'sampled', { redis: string; env: Record<string, string> }> = {
    off: { redis: offRedis!.url, env: { OTEL_SDK_DISABLED: 'true' } },
    on: { redis: onRedis!.url, env: { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl } },
    sampled: {
      redis: sampledRedis!.url,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
    },
  };
  const tokens = await env.customerTokens(50);
  const setups: Record<keyof typeof modes, { catalog: ServiceProcess; order: ServiceProcess }> = {} as never;
  for (const [mode, { redis, env: extra }] of Object.entries(modes) as [keyof typeof modes, (typeof modes)['on']][]) {
    const [catalogDb, orderDb] = [
      await env.database(`bench_trace_${mode}_catalog`),
      await env.database(`bench_trace_${mode}_order`),
    ];
    const catalog = await env.service('catalog', {
      ...extra,
      REDIS_URL: redis,
      DATABASE_URL: catalogDb.url,
      CACHE_L1_TTL_MS: '600000',
    });
    const order = await env.service('order', {
      ...extra,
      REDIS_URL: redis,
      DATABASE_URL: orderDb.url,
      ORDER_RATE_LIMIT_PER_MINUTE: '100000000',
      DISCOVERY_REFRESH_MS: '200',
    });
    for (const id of ['trace-read', ...Array.from({ length: 20 }, (_, i) => `trace-p${i}`)]) {
      const seed = await fetch(`${catalog.baseUrl}/products`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...env.admin },
        body: JSON.stringify({ id, name: `Bench ${id}`, priceCents: 500, stock: 1_000_000 }),
      });
      if (seed.status !== 201) throw new Error(`seed: ${seed.status}`);
    }
    setups[mode] = { catalog, order };
  }
  const productIds = Array.from({ length: 20 }, (_, i) => `trace-p${i}`);
  const reads: Record<string, LoadResult[]> = { off: [], on: [], sampled: [] };
  const orders: Record<string, LoadResult[]> = { off: [], on: [], sampled: [] };
  const turns = ['off', 'on', 'sampled'] as const;
  for (const mode of turns) {
    await load({ url: `${setups[mode].catalog.baseUrl}/products/trace-read`, connections: 32, durationSeconds: 1 });
  }
  for (let round = 0; round < budget.rounds; round++) {
    for (const mode of turns) {
      const read = await load({
        url: `${setups[mode].catalog.baseUrl}/products/trace-read`,
        connections: 32,
        durationSeconds: budget.httpSeconds,
      });
      reads[mode]!.push(read);
      const placed = await load({
        url: setups[mode].order.baseUrl,
        connections: 16,
        durationSeconds: budget.httpSeconds,
        mode: 'orders',
        productIds,
        tokens,
      });
      orders[mode]!.push({ ...placed, rps: answersWith('201', placed) / budget.httpSeconds });
      budget.log(
        `  tracing ${mode.padEnd(7)} round ${round + 1}/${budget.rounds}: reads ${Math.round(read.rps)} req/s p99 ${read.p99} ms; orders ${Math.round(orders[mode]!.at(-1)!.rps)}/s p99 ${placed.p99} ms${otherAnswers('201', placed) ? `; also answered ${otherAnswers('201', placed)}` : ''}`,
      );
    }
  }
  const exported = (await (await fetch(`${sinkUrl}/count`)).json()) as { exports: number; bytes: number };
  await Promise.all(Object.values(setups).flatMap(({ catalog, order }) => [catalog.stop('SIGTERM'), order.stop('SIGTERM')]));
  await Promise.all([stopChild(sink), offRedis!.stop(), onRedis!.stop(), sampledRedis!.stop()]);
  const [rOff, rOn, rSampled] = turns.map((mode) => summarize(reads[mode]!)) as [Summary, Summary, Summary];
  const [oOff, oOn, oSampled] = turns.map((mode) => summarize(orders[mode]!)) as [Summary, Summary, Summary];
  const readErrors = Object.values(reads)
    .flat()
    .reduce((n, r) => n + r.errors + (r.statusCounts['200'] === r.total ? 0 : 1), 0);
  const orderErrors = Object.values(orders)
    .flat()
    .reduce((n, r) => n + r.errors + (r.statusCounts['500'] ?? 0), 0);
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  /** One row: `traced` (labelled `label`) against the same path untraced. */
  const against = (
    path: 'read' | 'order',
    label: 'on' | 'sampled',
    traced: Summary,
    untraced: Summary,
    correct: boolean,
    note = '',
  ): Row => {
    const [name, unit] =
      path === 'read' ? ['GET /products/:id from L1', 'req/s'] : ['POST /orders (order → catalog)', 'orders/s'];
    const setup = label === 'on' ? 'tracing on (exported)' : '1 trace in 10 sampled';
    return {
      name: `${name}, ${setup} vs off`,
      measured: `${label} ${Math.round(traced.rps)} ${unit}, p99 ${traced.p99} ms`,
      ceiling: `off ${Math.round(untraced.rps)} ${unit}, p99 ${untraced.p99} ms`,
      ratio: ratio(traced.rps, untraced.rps),
      goal: `what ${label === 'on' ? 'tracing' : 'a ratio sampler'} costs the ${path} path`,
      met: null,
      correct,
      note: `p99 ratio ${ratio(traced.p99, untraced.p99)?.toFixed(2)}${note}`,
    };
  };
  return [
    against(
      'read',
      'on',
      rOn,
      rOff,
      readErrors === 0 && exported.exports > 0,
      `; the suite exported ${exported.exports} batches, ${Math.round(exported.bytes / 2 ** 20)} MiB of OTLP JSON`,
    ),
    against('order', 'on', oOn, oOff, orderErrors === 0),
    against('read', 'sampled', rSampled, rOff, readErrors === 0),
    against('order', 'sampled', oSampled, oOff, orderErrors === 0),
  ];
};

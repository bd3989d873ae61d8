import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type ServiceProcess, stopChild, track, waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.js';

/**
 * The shipped Prometheus config (infra/prometheus/prometheus.yml) and Grafana dashboard
 * against the running shop: a real Prometheus discovers the instances through the
 * dashboard's /sd/targets, scrapes them and the dashboard, answers every panel's query,
 * and keeps its targets while Redis cannot answer.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface Target {
  health: string;
  labels: Record<string, string>;
  scrapePool: string;
}
interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

let stack: Stack;
let dashboard: ServiceProcess;
let prometheusUrl: string;
let dir: string;
let prometheus: ReturnType<typeof spawn>;

const activeTargets = async () =>
  ((await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
const query = async (expr: string) => {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
};
/** A counter of Prometheus's own, read from its /metrics. */
const ownCounter = async (name: string) => {
  const text = await (await fetch(`${prometheusUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
};

beforeAll(async () => {
  stack = await startStack();
  dashboard = await stack.startDashboard();
  await stack.createProduct('prom-beans', 10);
  expect((await stack.placeOrder(0, 'prom-customer', [{ productId: 'prom-beans', quantity: 1 }])).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'storefront-prom-'));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  // The shipped file, pointed at this dashboard and with 1 s intervals instead of 5 s.
  const shipped = readFileSync(join(root, 'infra/prometheus/prometheus.yml'), 'utf8');
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, shipped.replaceAll('dashboard:3000', `127.0.0.1:${dashboard.port}`).replaceAll(': 5s', ': 1s'));
  await run('promtool', ['check', 'config', config]);
  prometheus = track(
    spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: 'ignore' },
    ),
  );
}, 120_000);

afterAll(async () => {
  if (stack) process.kill(stack.redisServer.pid, 'SIGCONT');
  if (prometheus) await stopChild(prometheus);
  await dashboard?.stop();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the shipped Prometheus config and Grafana dashboard on the running shop', () => {
  it('discovers all five instances from the registry and scrapes the dashboard too', async () => {
    const targets = await waitFor(
      async () => {
        const active = await activeTargets();
        return active.length === 6 && active.every((t) => t.health === 'up') ? active : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'six targets up' },
    );
    const shop = targets.filter((t) => t.scrapePool === 'storefront');
    expect(shop.map((t) => t.labels.service).sort()).toEqual(['catalog', 'catalog', 'notifier', 'order', 'order']);
    expect(targets.filter((t) => t.scrapePool === 'dashboard').map((t) => t.labels.service)).toEqual(['dashboard']);
  }, 60_000);

  it('answers every Grafana panel query; the registry panel shows each registered service, and no label is renamed', async () => {
    const dashboardJson = JSON.parse(readFileSync(join(root, 'infra/grafana/dashboards/storefront.json'), 'utf8'));
    const exprs: string[] = dashboardJson.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    for (const expr of exprs) await query(expr.replaceAll('$__rate_interval', '1m'));
    const registry = await waitFor(
      async () => {
        const rows = await query('max by (registered_service) (registry_instances)');
        return rows.length === 3 ? rows : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'registry panel series' },
    );
    expect(Object.fromEntries(registry.map((r) => [r.metric.registered_service, Number(r.value[1])]))).toEqual({
      catalog: 2,
      order: 2,
      notifier: 1,
    });
    // The services' own `service`/`instance_id` labels agree with the discovered ones (honor_labels):
    // nothing is renamed to exported_*, so `by (service)` groups by the process that reported.
    expect(await query('count({exported_service!=""} or {exported_instance_id!=""})')).toEqual([]);
    expect((await query('sum by (service) (up)')).map((r) => r.metric.service).sort()).toEqual([
      'catalog',
      'dashboard',
      'notifier',
      'order',
    ]);
  }, 60_000);

  it('keeps every target while Redis is frozen: discovery answers 503, not an empty list', async () => {
    const failuresBefore = await ownCounter('prometheus_sd_http_failures_total');
    process.kill(stack.redisServer.pid, 'SIGSTOP');
    try {
      await waitFor(async () => (await fetch(`${dashboard.baseUrl}/sd/targets`)).status === 503, {
        timeoutMs: 10_000,
        intervalMs: 100,
        description: '/sd/targets to answer 503',
      });
      const answer = await fetch(`${dashboard.baseUrl}/sd/targets`);
      expect(answer.headers.get('retry-after')).toBe('1');
      // Prometheus asked at least three times meanwhile and was refused each time...
      await waitFor(async () => (await ownCounter('prometheus_sd_http_failures_total')) >= failuresBefore + 3, {
        timeoutMs: 15_000,
        intervalMs: 250,
        description: 'Prometheus to be refused three discoveries',
      });
      // ...and still scrapes all six targets.
      expect((await activeTargets()).length).toBe(6);
    } finally {
      process.kill(stack.redisServer.pid, 'SIGCONT');
    }
    await waitFor(async () => (await fetch(`${dashboard.baseUrl}/sd/targets`)).status === 200, {
      timeoutMs: 15_000,
      description: '/sd/targets back after the thaw',
    });
  }, 60_000);
});

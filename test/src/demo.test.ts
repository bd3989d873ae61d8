import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, lineReader, stopChild, track, waitFor } from '@storefront/testing';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'demo/dist/cli.js');

/** Ports for one demo run, so the suite never collides with a demo a person is running. */
const demoPorts = async () => {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  return {
    ports,
    env: {
      ...process.env,
      CATALOG_PORTS: `${ports[0]},${ports[1]}`,
      ORDER_PORTS: `${ports[2]},${ports[3]}`,
      NOTIFIER_PORT: String(ports[4]),
      DASHBOARD_PORT: String(ports[5]),
      REDIS_URL: '',
      DATABASE_URL: '',
    },
  };
};
const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

describe('pnpm demo', () => {
  it.each([
    ['one Redis', []],
    ['a Redis Cluster (--cluster)', ['--cluster']],
  ])(
    'runs the scenario on %s to its summary, every check passing, and leaves nothing running',
    async (_on, args) => {
      const { ports, env } = await demoPorts();
      const child = track(spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
      let output = '';
      child.stdout!.on('data', (c) => {
        output += c;
      });
      child.stderr!.on('data', (c) => {
        output += c;
      });
      const [code] = await once(child, 'exit');
      expect(output).toContain('all 7 checks passed');
      expect(code).toBe(0);
      for (const step of [
        'cache',
        'flash sale',
        'idempotent retry',
        'notifier crash',
        'catalog instance killed',
        'unpaid order expires',
        'live rankings',
      ]) {
        expect(output).toMatch(new RegExp(`✔ ${step}`));
      }
      // With --cluster, the Cluster's nodes (printed at start) are gone too.
      const clusterNodes = /nodes ([\d, ]+)/.exec(output)?.[1]?.split(', ').map(Number) ?? [];
      expect(clusterNodes).toHaveLength(args.length ? 6 : 0);
      for (const port of [...ports, ...clusterNodes]) expect(await portFree(port)).toBe(true);
    },
    150_000,
  );

  it('says which port is taken instead of printing a stack trace', async () => {
    const { ports, env } = await demoPorts();
    const blocker = createServer().listen(ports[2], '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const result = await run(process.execPath, [cli], { env }).catch((e: { code: number; stderr: string }) => e);
      expect((result as { code: number }).code).toBe(1);
      expect((result as { stderr: string }).stderr.trim()).toBe(
        `demo: port ${ports[2]} (order-1) is already in use — stop what uses it, or set ORDER_PORTS`,
      );
    } finally {
      blocker.close();
    }
  });
});

describe('pnpm demo --keep: dashboard and Prometheus', () => {
  let demo: ReturnType<typeof spawn>;
  let dashboard: string;
  let instanceIds: string[];
  let ports: number[];
  let signInLink = '';
  let redisPort = 0;
  beforeAll(async () => {
    const setup = await demoPorts();
    ports = setup.ports;
    dashboard = `http://127.0.0.1:${ports[5]}`;
    demo = track(spawn(process.execPath, [cli, '--keep'], { env: setup.env, stdio: ['ignore', 'pipe', 'inherit'] }));
    const lines = lineReader(demo.stdout!);
    instanceIds = [];
    for (;;) {
      const line = await lines.next(120_000);
      const id = /\((\w+-[0-9a-f]{8})\)$/.exec(line)?.[1];
      if (id) instanceIds.push(id);
      signInLink = /sign in as admin: (\S+)/.exec(line)?.[1] ?? signInLink;
      redisPort = Number(/redis-server on 127\.0\.0\.1:(\d+)/.exec(line)?.[1] ?? redisPort);
      if (line.startsWith('Everything keeps running')) break;
    }
  }, 150_000);
  afterAll(async () => {
    if (demo) {
      demo.kill('SIGINT');
      const [code] = await once(demo, 'exit');
      expect(code).toBe(0);
      for (const port of ports) expect(await portFree(port)).toBe(true);
    }
  }, 60_000);

  it('shows every registered instance in a real browser, and a placed order appears in recent events', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      // Signed out, the page asks for a token and the API refuses.
      const signedOut = await browser.newPage();
      await signedOut.goto(dashboard);
      await signedOut.waitForSelector('#signin:not([hidden])');
      expect((await fetch(`${dashboard}/api/state`)).status).toBe(401);
      await signedOut.close();
      // The demo's sign-in link (opened as a user opens it from the terminal) carries an admin
      // token in the fragment; the page trades it for the session cookie.
      const page = await browser.newPage();
      await page.goto(signInLink);
      await page.waitForSelector('#status.ok');
      expect(await page.textContent('#whoami')).toBe('demo-admin (admin)');
      expect(page.url()).not.toContain('token=');
      const adminToken = new URL(signInLink).hash.slice('#token='.length);
      // The catalog-1 that was killed and restarted during the scenario has a new id: use the live ones.
      const live = (await (
        await fetch(`${dashboard}/api/state`, { headers: { authorization: `Bearer ${adminToken}` } })
      ).json()) as {
        instances: Record<string, { instanceId: string }[]>;
      };
      const liveIds = Object.values(live.instances)
        .flat()
        .map((i) => i.instanceId);
      expect(liveIds).toHaveLength(5);
      for (const id of liveIds) await page.waitForSelector(`[data-instance="${id}"]`, { timeout: 10_000 });
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/orders')),
        page.click('button[data-order="espresso-beans"]'),
      ]);
      const placed = (await answer.json()) as { id?: string; customerId?: string };
      expect(answer.status(), JSON.stringify(placed)).toBe(201);
      // Placed as the signed-in user, and announced: its event reaches the page.
      expect(placed.customerId).toBe('demo-admin');
      await page.waitForSelector('#events li[data-type="order.placed"]:has-text("demo-admin ordered 1× espresso-beans")', {
        timeout: 20_000,
      });
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('opens an order’s trace with spans from all three services, its charts move while orders are placed, the ACL audit shows a refused AUTH, and the rankings panel what sold and what is watched', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(signInLink);
      await page.waitForSelector('svg[data-chart="orders"]', { timeout: 10_000 });
      const ordersPerSec = async () =>
        JSON.parse((await page.getAttribute('svg[data-chart="orders"]', 'data-last')) ?? '{}')['orders/s'] as number;
      const pointsBefore = await page.getAttribute('svg[data-chart="orders"] path', 'd');
      // Place orders from the page (as its "order 1" button does) until the orders/s chart shows them.
      const placeFromPage = () =>
        page.evaluate(async () => {
          const res = await fetch('/api/orders', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ productId: 'espresso-beans', quantity: 1 }),
          });
          return { status: res.status, body: (await res.json()) as { id?: string } };
        });
      let orderId: string | undefined;
      let seen = 0;
      for (let placed = 0; placed < 40 && seen <= 0; placed++) {
        const answer = await placeFromPage();
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
        orderId ??= answer.body.id;
        seen = await ordersPerSec();
      }
      if (seen <= 0)
        seen = await waitFor(async () => ((await ordersPerSec()) > 0 ? ordersPerSec() : undefined), {
          timeoutMs: 5_000,
          description: 'orders/s above 0',
        });
      expect(seen).toBeGreaterThan(0);
      // orders/s can be above 0 already from earlier orders; the line moves with the next sample.
      await waitFor(async () => (await page.getAttribute('svg[data-chart="orders"] path', 'd')) !== pointsBefore, {
        timeoutMs: 10_000,
        description: 'the orders chart to draw a new point',
      });

      // The first order's trace, looked up by its id: the waterfall shows spans of order, catalog and notifier.
      await waitFor(
        async () => {
          await page.fill('#trace-id', orderId!);
          await page.click('#trace-form button');
          await page.waitForSelector('#waterfall [data-trace-open]', { timeout: 2_000 });
          const services = await page.$$eval('#waterfall .span-row', (rows) => [
            ...new Set(rows.map((r) => r.getAttribute('data-service'))),
          ]);
          return ['order', 'catalog', 'notifier'].every((s) => services.includes(s));
        },
        { timeoutMs: 30_000, intervalMs: 500, description: 'the order trace with spans from all three services' },
      );
      const spans = await page.$$eval('#waterfall .span-row', (rows) => rows.map((r) => r.getAttribute('data-span')));
      // Someone guesses order's Redis password: the ACL audit panel shows the refusal.
      const guess = await run('redis-cli', ['-p', String(redisPort), '--user', 'order', '--no-auth-warning', 'PING'], {
        env: { ...process.env, REDISCLI_AUTH: 'a-guess' },
      }).catch((e: { stdout: string }) => e);
      expect(guess.stdout).toMatch(/WRONGPASS|NOAUTH/);
      await page.waitForSelector('#acl tr[data-acl-user="order"][data-acl-reason="auth"]', { timeout: 10_000 });
      // The rankings panel: the scenario's watches (grinder 3, mug 1) and its best-seller, the orders just placed counted.
      await page.waitForSelector('#most-watched li[data-product="grinder"][data-score="3"]', { timeout: 10_000 });
      await page.waitForSelector('#most-watched li[data-product="ceramic-mug"][data-score="1"]', { timeout: 10_000 });
      await page.waitForSelector('#best-selling li[data-product="espresso-beans"]:first-child', { timeout: 10_000 });
      expect(Number(await page.getAttribute('#orders-per-minute', 'data-placed'))).toBeGreaterThanOrEqual(40);
      expect(spans).toEqual(
        expect.arrayContaining(['POST /orders', 'POST /reservations', 'lock acquire', 'outbox relay', 'process notifications']),
      );
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('lets a real Prometheus discover every instance from the registry and scrape it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storefront-prom-'));
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    await writeFile(
      config,
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: storefront\n    http_sd_configs:\n      - url: ${dashboard}/sd/targets\n        refresh_interval: 1s\n`,
    );
    await run('promtool', ['check', 'config', config]);
    const prometheus = track(
      spawn(
        'prometheus',
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        {
          stdio: 'ignore',
        },
      ),
    );
    try {
      const targets = await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/targets`);
          const body = (await res.json()) as { data: { activeTargets: { health: string; labels: Record<string, string> }[] } };
          const active = body.data.activeTargets;
          return active.length === 5 && active.every((t) => t.health === 'up') ? active : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, description: 'five targets up' },
      );
      expect(new Set(targets.map((t) => t.labels.service))).toEqual(new Set(['catalog', 'order', 'notifier']));
    } finally {
      await stopChild(prometheus);
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('checks the shipped Prometheus config with promtool', async () => {
    const { stdout } = await run('promtool', ['check', 'config', join(root, 'infra/prometheus/prometheus.yml')]);
    expect(stdout).toMatch(/SUCCESS/);
  });
});

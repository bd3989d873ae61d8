#!/usr/bin/env node
// `pnpm compose:smoke`: the docker-compose deployment for real, on your Docker or podman.
// Brings the stack up (project `storefront-smoke`, fresh secrets in a temp env file), waits
// until every instance is ready, places and pays an order and waits for its notifications,
// checks Prometheus's targets, then: kills the Redis primary (orders must be back within
// 10 s), brings it back (it must rejoin as a replica), kills the new primary (the fail-back;
// orders back within 10 s again), brings that one back, and restarts the current primary,
// counting the queued jobs before and after (none may be lost). Ends with `down -v` (unless
// --keep) and a table of timings. Exit code 0 only when every check held.
//
//   COMPOSE="docker compose" | "docker-compose"   (default: the first that answers)
//   --keep                                        leave the stack running
//   --no-build                                    use the images already built
//   --without NAME[,NAME]                         leave these services out (e.g. grafana)
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { composeSecrets, envFile } from './compose-secrets.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const argv = process.argv.slice(2);
const args = new Set(argv);
const without = new Set(argv.flatMap((a, i) => (argv[i - 1] === '--without' ? a.split(',') : [])));
const PROJECT = 'storefront-smoke';
const ORDERS_BACK_MS = 10_000;
const base = {
  catalog: 'http://127.0.0.1:3101',
  order: 'http://127.0.0.1:3201',
  notifier: 'http://127.0.0.1:3301',
  dashboard: 'http://127.0.0.1:3000',
  prometheus: 'http://127.0.0.1:9090',
};
const READY = [3101, 3102, 3201, 3202, 3301, 3000].map((p) => `http://127.0.0.1:${p}/health/ready`);

const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The compose command: $COMPOSE, else `docker compose`, else `docker-compose`. */
const composeCommand = async (): Promise<string[]> => {
  if (process.env.COMPOSE) return process.env.COMPOSE.split(' ').filter(Boolean);
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    try {
      await run(candidate[0]!, [...candidate.slice(1), 'version'], { timeout: 20_000 });
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error('neither `docker compose` nor `docker-compose` answers; set COMPOSE (see docs/operations.md)');
};

interface Row {
  step: string;
  result: string;
  seconds: number;
  ok: boolean;
}
const rows: Row[] = [];
const step = async (name: string, body: () => Promise<{ result: string; ok?: boolean }>): Promise<void> => {
  say(`▶ ${name}`);
  const started = performance.now();
  let result: string;
  let ok: boolean;
  try {
    ({ result, ok = true } = await body());
  } catch (error) {
    result = error instanceof Error ? error.message : String(error);
    ok = false;
  }
  const seconds = (performance.now() - started) / 1000;
  rows.push({ step: name, result, seconds, ok });
  say(`  ${ok ? '✓' : '✗'} ${result} (${seconds.toFixed(1)} s)`);
  if (!ok) throw new Error(`${name}: ${result}`);
};

/** Poll `check` every `everyMs` until it returns a value, for at most `timeoutMs`. */
const until = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 500): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
};

const main = async () => {
  const compose = await composeCommand();
  const dir = await mkdtemp(join(tmpdir(), 'storefront-smoke-'));
  const { env, identity } = await composeSecrets();
  const envPath = join(dir, '.env');
  await writeFile(envPath, envFile(env, 'pnpm compose:smoke'), { mode: 0o600 });
  const dc = (...rest: string[]) => [...compose.slice(1), '-p', PROJECT, '--env-file', envPath, ...rest];
  /** A compose command, its output streamed to stderr. */
  const composeRun = (rest: string[], timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      // Its output (build logs included) goes to stderr with the progress; stdout is the table.
      const child = spawn(compose[0]!, dc(...rest), { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        code === 0 ? resolve() : reject(new Error(`${compose.join(' ')} ${rest.join(' ')} exited ${code}`));
      });
    });
  /** A compose command's output. */
  const composeOut = async (rest: string[]) => (await run(compose[0]!, dc(...rest), { cwd: root, timeout: 30_000 })).stdout;
  /** Ask a Sentinel (inside the network; Sentinels take no credentials). */
  const sentinel = async (...command: string[]) =>
    (await composeOut(['exec', '-T', 'sentinel-1', 'redis-cli', '-p', '26379', '--raw', 'SENTINEL', ...command])).trim();
  const primaryName = async () => (await sentinel('get-master-addr-by-name', 'storefront')).split('\n')[0]!;
  const replicaInSync = async (name: string) => {
    const replicas = await sentinel('replicas', 'storefront');
    const lines = replicas.split('\n');
    const at = lines.indexOf(name);
    if (at < 0) return undefined;
    const fields = Object.fromEntries(
      lines.slice(at - 3, at + 60).flatMap((v, i, a) => (i % 2 === 0 && a[i + 1] !== undefined ? [[v, a[i + 1]]] : [])),
    );
    return fields.flags === 'slave' && fields['master-link-status'] === 'ok' ? true : undefined;
  };

  /**
   * Ready for a fault: no Sentinel in TILT (Sentinel stops acting for 30 s after its timer
   * stalled, e.g. while a small host starts every container at once) and the replica in
   * sync. A kill before that measures Sentinel's pause, not the failover.
   */
  const topologySettled = async () => {
    for (const name of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      const info = await composeOut(['exec', '-T', name, 'redis-cli', '-p', '26379', 'INFO', 'sentinel']);
      if (!/sentinel_tilt:0/.test(info)) return undefined;
    }
    const primary = await primaryName();
    return replicaInSync(primary === 'redis-primary' ? 'redis-replica' : 'redis-primary');
  };

  const admin = await identity.token('smoke-admin', { admin: true });
  const customer = await identity.token('smoke-customer');
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const product = `smoke-${Date.now()}`;
  // Every order placed gets a delayed expiry job (paid ones too: it finds them paid and does nothing).
  let placed = 0;
  const placeOrder = async () => {
    const res = await fetch(`${base.order}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `smoke-${randomUUID()}`, ...bearer(customer) },
      body: JSON.stringify({ items: [{ productId: product, quantity: 1 }] }),
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status !== 201) return undefined;
    placed++;
    return (await res.json()) as { id: string };
  };
  /**
   * Kill `service` while orders keep coming (one every 250 ms), and measure what a client
   * sees: from the first failed order after the kill to the next one placed. (Timed from the
   * orders, not from the kill command: docker-compose itself takes seconds to start.)
   */
  const ordersBackAfterKill = async (service: string) => {
    await until('the Sentinels settled (no TILT) and the replica in sync', topologySettled, 120_000, 1_000);
    const attempts: { at: number; end: number; ok: boolean }[] = [];
    let stop = false;
    const orders = (async () => {
      while (!stop) {
        const at = performance.now();
        const ok = Boolean(await placeOrder().catch(() => undefined));
        attempts.push({ at, end: performance.now(), ok });
        await sleep(250);
      }
    })();
    const sent = performance.now();
    try {
      await composeRun(['kill', service], 60_000);
      const killed = performance.now();
      const window = await until(
        'an order placed after the outage',
        async () => {
          const failed = attempts.find((a) => !a.ok && a.at >= sent);
          if (!failed) return attempts.some((a) => a.ok && a.at >= killed + 10_000) ? 0 : undefined;
          const back = attempts.find((a) => a.ok && a.at > failed.at);
          return back ? back.end - failed.at : undefined;
        },
        60_000,
        250,
      );
      const failedCount = attempts.filter((a) => !a.ok).length;
      return {
        result: `orders back ${(window / 1000).toFixed(1)} s after the first failure (${failedCount} of ${attempts.length} orders refused meanwhile; bound ${ORDERS_BACK_MS / 1000} s)`,
        ok: window <= ORDERS_BACK_MS,
      };
    } finally {
      stop = true;
      await orders;
    }
  };
  const delayedExpiries = async () => {
    const res = await fetch(`${base.dashboard}/api/state`, { headers: bearer(admin), signal: AbortSignal.timeout(5_000) });
    const state = (await res.json()) as { queues?: Record<string, Record<string, number>> };
    return state.queues?.['order-expiry']?.delayed;
  };

  try {
    await step(`${compose.join(' ')} up${args.has('--no-build') ? '' : ' --build'}`, async () => {
      const services = (await composeOut(['config', '--services'])).split('\n').filter((n) => n && !without.has(n));
      await composeRun(['up', '-d', ...(args.has('--no-build') ? [] : ['--build']), ...services], 30 * 60_000);
      return { result: `${services.length} services started${without.size ? ` (without ${[...without].join(', ')})` : ''}` };
    });
    await step('every instance ready', async () => {
      await until(
        'every /health/ready 200',
        async () => {
          const answers = await Promise.all(
            READY.map((u) => fetch(u, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status)),
          );
          return answers.every((s) => s === 200) ? true : undefined;
        },
        180_000,
      );
      return { result: `${READY.length} instances answer /health/ready 200` };
    });
    await step('an order placed, paid and notified', async () => {
      const created = await fetch(`${base.catalog}/products`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(admin) },
        body: JSON.stringify({ id: product, name: 'Smoke test beans', priceCents: 1200, stock: 10_000 }),
      });
      if (created.status !== 201) throw new Error(`product: ${created.status} ${await created.text()}`);
      const order = await until('an order placed', placeOrder, 30_000);
      const paid = await fetch(`${base.order}/orders/${order.id}/pay`, { method: 'POST', headers: bearer(customer) });
      if (paid.status !== 200) throw new Error(`pay: ${paid.status}`);
      const kinds = await until(
        'both notifications',
        async () => {
          const res = await fetch(`${base.notifier}/notifications?orderId=${order.id}`, { headers: bearer(customer) });
          const items = ((await res.json()) as { items: { kind: string }[] }).items.map((n) => n.kind);
          return items.includes('order.placed') && items.includes('order.paid') ? items : undefined;
        },
        30_000,
      );
      return { result: `order ${order.id.slice(0, 8)}: ${kinds.sort().join(', ')}` };
    });
    await step('Prometheus scrapes every instance and the dashboard', async () => {
      const up = await until(
        'six targets up',
        async () => {
          const body = (await (await fetch(`${base.prometheus}/api/v1/targets`)).json()) as {
            data: { activeTargets: { health: string }[] };
          };
          const targets = body.data.activeTargets;
          return targets.length === 6 && targets.every((t) => t.health === 'up') ? targets.length : undefined;
        },
        60_000,
      );
      return { result: `${up} targets up` };
    });
    const first = await primaryName();
    const second = first === 'redis-primary' ? 'redis-replica' : 'redis-primary';
    await step(`failover: ${first} killed`, () => ordersBackAfterKill(first));
    await step(`${first} back as a replica`, async () => {
      await composeRun(['start', first], 60_000);
      await until(`${first} in sync`, () => replicaInSync(first), 90_000, 1_000);
      return { result: `${first} replicates from ${await primaryName()}` };
    });
    await step(`fail-back: ${second} killed`, () => ordersBackAfterKill(second));
    await step(`${second} back as a replica`, async () => {
      await composeRun(['start', second], 60_000);
      await until(`${second} in sync`, () => replicaInSync(second), 90_000, 1_000);
      return { result: `${second} replicates from ${await primaryName()}` };
    });
    await step('Redis primary restarted: no queued job lost', async () => {
      for (let i = 0; i < 20; i++) await until('an order placed', placeOrder, 10_000);
      // Each order's expiry waits as a delayed job (ORDER_PAYMENT_TIMEOUT 15m in compose): once
      // the outbox relayed them, there is one per order placed.
      const allQueued = async () => {
        const n = await delayedExpiries();
        return n !== undefined && n >= placed ? n : undefined;
      };
      const before = await until('a delayed expiry job for every order', allQueued, 60_000);
      const primary = await primaryName();
      await composeRun(['restart', primary], 120_000);
      await until('an order placed', placeOrder, 60_000, 250);
      const after = await until("every job still there, and the new order's", allQueued, 60_000).catch(() => undefined);
      const seen = after ?? (await delayedExpiries()) ?? 0;
      const lost = Math.max(0, placed - seen);
      return {
        result: `${primary} restarted: ${before} delayed expiry jobs before, ${seen} after for ${placed} orders, ${lost} lost`,
        ok: lost === 0,
      };
    });
  } finally {
    if (rows.some((r) => !r.ok)) {
      // Every container's log, for reading the failure after `down -v` removed them.
      const file = join(tmpdir(), 'storefront-smoke-logs.txt');
      const logs = await run(compose[0]!, dc('logs', '--no-color', '--timestamps'), { cwd: root, maxBuffer: 512 * 1024 * 1024 })
        .then((r) => r.stdout)
        .catch((e: unknown) => `could not read the logs: ${String(e)}`);
      await writeFile(file, logs);
      say(`the containers' logs: ${file}`);
    }
    if (args.has('--keep'))
      say(`--keep: the stack keeps running (${compose.join(' ')} -p ${PROJECT} --env-file ${envPath} down -v)`);
    else {
      await composeRun(['down', '-v'], 120_000).catch((e: unknown) => say(`down -v failed: ${String(e)}`));
      await rm(dir, { recursive: true, force: true });
    }
    process.stdout.write(
      `\n| step | result | seconds |\n|---|---|---|\n${rows.map((r) => `| ${r.ok ? '' : '✗ '}${r.step} | ${r.result} | ${r.seconds.toFixed(1)} |`).join('\n')}\n`,
    );
  }
};

main().catch((error: unknown) => {
  say(`compose smoke test failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});

import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys, queueKey, queues } from '@storefront/contracts';
import { adminCommand, infoFields, type SentinelTopology, waitFor } from '@storefront/testing';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../stack.js';
import { CHAOS_ENV, ChaosRun } from './chaos-run.js';
import { chaosTable, type FaultFigures } from './figures.js';

/**
 * The chaos suite: the whole shop as real processes (2 catalog, 2 order, 1 notifier, real
 * Redis, real Postgres), steady order load on loopback, one fault at a time, and the same
 * consistency checks after each (consistency.ts). Prints the table at the end.
 */
const rows: FaultFigures[] = [];
afterAll(async () => {
  const table = chaosTable(rows);
  const file = join(tmpdir(), 'storefront-chaos-latest.md');
  await writeFile(file, `${table}\n`);
  console.log(`\nChaos table (also in ${file}):\n\n${table}\n`);
});

/** Every order and attempt of a run, for reading after a failure. */
const dumpRequests = async (run: ChaosRun | undefined, name: string, stack?: Stack) => {
  if (!run) return;
  // The services' warnings and slow requests, beside the orders, for reading a failure.
  const logs = stack
    ? [...stack.catalog, ...stack.order, stack.notifier].flatMap((p) =>
        p.logs.filter((l) => Number(l.level) >= 40 || Number(l.responseTime) >= 1000).map((l) => ({ port: p.port, ...l })),
      )
    : [];
  await writeFile(
    join(tmpdir(), `storefront-chaos-${name}.json`),
    JSON.stringify({ rows: run.rows, requests: run.requests, logs }),
  );
};
/**
 * What a failure message needs when an answer was a 5xx other than 503: the answers' codes and
 * the services' error lines (level ≥ 50) from the fault's window, so a CI log alone names the cause.
 */
const why5xx = (row: FaultFigures, stack: Stack): string => {
  if (!row.errors5xx) return '';
  const lines = [...stack.catalog, ...stack.order, stack.notifier].flatMap((p) =>
    p.logs
      .filter((l) => {
        const at = Date.parse(String(l.time));
        return Number(l.level) >= 50 && at >= row.from - 1_000 && at <= row.to + 10_000;
      })
      .map((l) => {
        const err = l.err as { type?: string; message?: string } | undefined;
        return `:${p.port} ${String(l.msg)}${err ? ` (${err.type}: ${err.message})` : ''}`;
      }),
  );
  return `answers ${row.errors5xxSeen.join(', ')}; error logs: ${lines.slice(0, 10).join(' | ') || 'none'}`;
};
/** A moment as the outbox trail in a consistency example prints it (UTC), to read the two side by side. */
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);
/**
 * Where the notifications queue holds a job on each Redis at `ports()` (the primary first):
 * its lists and sets, attempts, lock, failure, and what the queue's events stream says
 * happened to it (added, active, completed, failed, stalled, removed…).
 */
const notificationJobState = (ports: () => Promise<number[]>, stack: () => Stack) => async (jobId: string) => {
  const states = await Promise.all(
    (await ports()).map((at) => jobStateOn(at, jobId).catch((err: Error) => `:${at} unreadable (${err.message})`)),
  );
  // What the notifier said about it (a failed attempt logs the job id).
  const said = stack()
    .notifier.logs.filter((l) => l.jobId === jobId)
    .slice(0, 3)
    .map(
      (l) => `notifier ${clock(Date.parse(String(l.time)))} ${String(l.msg)}: ${(l.err as { message?: string })?.message ?? ''}`,
    );
  return [...states, ...said].join(' | ');
};
const jobStateOn = async (at: number, jobId: string) => {
  const key = (suffix: string) => queueKey(queues.notifications, suffix);
  const events = (await adminCommand(at, 'XRANGE', key('events'), '-', '+')) as [string, string[]][];
  const history = events
    .filter(([, fields]) => fields.some((f, i) => i % 2 === 1 && f === jobId))
    .map(([id, fields]) => `${fields[fields.indexOf('event') + 1]}@${id.split('-')[0]}`);
  const trail = ` events [${history.join(', ') || 'none'}; stream from ${events[0]?.[0].split('-')[0] ?? '—'}]`;
  const [fields, lock, wait, active, paused, stalled, ...scores] = await Promise.all([
    adminCommand(at, 'HMGET', key(jobId), 'attemptsMade', 'stalledCounter', 'processedOn', 'finishedOn', 'failedReason'),
    adminCommand(at, 'PTTL', key(`${jobId}:lock`)),
    adminCommand(at, 'LPOS', key('wait'), jobId),
    adminCommand(at, 'LPOS', key('active'), jobId),
    adminCommand(at, 'LPOS', key('paused'), jobId),
    adminCommand(at, 'SISMEMBER', key('stalled'), jobId),
    ...['delayed', 'prioritized', 'completed', 'failed'].map((set) => adminCommand(at, 'ZSCORE', key(set), jobId)),
  ]);
  const [attemptsMade, stalledCounter, processedOn, finishedOn, failedReason] = fields as (string | null)[];
  const sets = ['delayed', 'prioritized', 'completed', 'failed'].filter((_, i) => scores[i] !== null);
  const lists = Object.entries({ wait, active, paused })
    .filter(([, pos]) => pos !== null)
    .map(([name]) => name);
  if ((fields as unknown[]).every((f) => f === null) && !lists.length && !sets.length) return `not on :${at};${trail}`;
  return (
    `on :${at} in [${[...lists, ...sets, ...(stalled ? ['stalled'] : [])].join(', ') || 'nothing'}], attemptsMade ${attemptsMade}, ` +
    `stalledCounter ${stalledCounter}, processedOn ${processedOn}, finishedOn ${finishedOn}, lock pttl ${lock}` +
    (failedReason ? `, failed: ${failedReason.slice(0, 120)}` : '') +
    `;${trail}`
  );
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fault that freezes a process (SIGSTOP) for `ms`, then lets it go on. */
const freeze = (pid: () => number, ms: number) => async () => {
  const from = Date.now();
  process.kill(pid(), 'SIGSTOP');
  await sleep(ms);
  process.kill(pid(), 'SIGCONT');
  return { from, to: Date.now() };
};

/** A fault that SIGKILLs a process and, `ms` later, starts its replacement. */
const kill = (stop: () => Promise<unknown>, ms: number, restart: () => Promise<unknown>) => async () => {
  const from = Date.now();
  await stop();
  await sleep(ms);
  await restart();
  return { from, to: Date.now() };
};

/** The share of attempts sent in [from, to] that placed their order. */
const placedShare = (run: ChaosRun, from: number, to: number) => {
  const sent = run.requests.flatMap((r) => r.attempts).filter((a) => a.at >= from && a.at <= to);
  return sent.length ? sent.filter((a) => a.status === 201).length / sent.length : 0;
};
const expectNothingWrong = (row: FaultFigures, context = '') => {
  const c = row.consistency!;
  expect(
    { ...c, acknowledged: undefined, examples: undefined, missingNotificationJobs: undefined },
    `fault ${clock(row.from)}–${clock(row.to)}; ${c.examples.join('; ')}${context ? `; ${context}` : ''}`,
  ).toEqual({
    acknowledged: undefined,
    examples: undefined,
    missingNotificationJobs: undefined,
    lost: 0,
    doubled: 0,
    leakedUnits: 0,
    negativeStock: 0,
    orphanReservations: 0,
    openIntents: 0,
    notificationErrors: 0,
    unexpired: 0,
  });
  expect(c.acknowledged).toBeGreaterThan(0);
  expect(row.settleMs).not.toBeNull();
};

describe('chaos on a standalone Redis (AOF on)', () => {
  let stack: Stack;
  let run: ChaosRun;
  beforeAll(async () => {
    stack = await startStack({ env: CHAOS_ENV, redisConfig: ['appendonly yes', 'appendfsync everysec'] });
    run = new ChaosRun(
      stack,
      [],
      notificationJobState(
        async () => [stack.redisServer.port],
        () => stack,
      ),
    );
    run.products.push(...(await run.createProducts(100_000, 10, 'chaos')));
  }, 120_000);
  afterAll(async () => {
    rows.push(...run.rows);
    await dumpRequests(run, 'standalone', stack);
    await stack?.stop();
  });

  it('baseline: no fault', async () => {
    const row = await run.fault('none (baseline)', async () => {
      const from = Date.now();
      await sleep(3000);
      return { from, to: Date.now() };
    });
    expect(row.fastHonest).toBe(1);
    expectNothingWrong(row);
  }, 120_000);

  it('Redis frozen (SIGSTOP) 8 s: 503 + Retry-After in < 1 s, then everything back', async () => {
    const row = await run.fault(
      'Redis frozen 8 s',
      freeze(() => stack.redisServer.pid, 8000),
    );
    expect(row.fastHonest).toBeGreaterThanOrEqual(0.99);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expect(row.backMs).toBeLessThanOrEqual(10_000);
    expectNothingWrong(row);
  }, 180_000);

  it('Redis killed, down 8 s, restarted from its AOF: 503 + Retry-After in < 1 s, then everything back', async () => {
    const row = await run.fault(
      'Redis down 8 s (AOF restart)',
      kill(
        async () => process.kill(stack.redisServer.pid, 'SIGKILL'),
        8000,
        () => stack.restartRedis(),
      ),
    );
    expect(row.fastHonest).toBeGreaterThanOrEqual(0.99);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expect(row.backMs).toBeLessThanOrEqual(10_000);
    expectNothingWrong(row);
  }, 180_000);

  it('Redis restarted empty (a replaced node): every product orderable again in ≤ 10 s; sweepers expire what lost its job', async () => {
    let healed = 0;
    const row = await run.fault('Redis restarted empty', async () => {
      const from = Date.now();
      await stack.restartRedis({ empty: true });
      healed = Date.now();
      return { from, to: healed };
    });
    // The first 201 per product after the empty restart (fences self-heal past Postgres').
    const firstPerProduct = run.products.map((p) => {
      const ok = run.requests
        .filter((r) => r.items.some((i) => i.productId === p))
        .flatMap((r) => r.attempts)
        .filter((a) => a.status === 201 && a.at >= healed)
        .map((a) => a.at + a.ms - healed);
      return Math.min(...ok);
    });
    const worst = Math.max(...firstPerProduct);
    row.notes = `every product orderable ${(worst / 1000).toFixed(1)} s after`;
    expect(worst).toBeLessThanOrEqual(10_000);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
  }, 180_000);

  it('an order instance SIGKILLed under load: nothing lost, nothing doubled, its half-done placements undone', async () => {
    const row = await run.fault(
      'order instance SIGKILL',
      kill(
        () => stack.order[0]!.stop('SIGKILL'),
        2000,
        () => stack.restartInstance('order', 0),
      ),
    );
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
  }, 180_000);

  it('a catalog instance SIGSTOPped 8 s mid-load: the other catalog keeps selling (≥ 50 % placed), and stock stays exact', async () => {
    const row = await run.fault(
      'catalog instance SIGSTOP 8 s',
      freeze(() => stack.catalog[0]!.pid, 8000),
    );
    // Before the fix 4 of 200 orders got through while one catalog was paused.
    const share = placedShare(run, row.from, row.to);
    row.notes = `${(100 * share).toFixed(0)}% of attempts placed their order during the pause`;
    expect(share).toBeGreaterThanOrEqual(0.5);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
    // The paused catalog lives on: Postgres ends the session of a transaction it left open
    // for longer than the lock TTL (idle_in_transaction_session_timeout); that fails the
    // transaction, not the process.
    const paused = stack.catalog[0]!;
    await waitFor(async () => (await fetch(`${paused.baseUrl}/health/ready`)).status === 200, {
      timeoutMs: 15_000,
      description: 'the paused catalog ready again',
    });
    expect({ exitCode: paused.child.exitCode, signal: paused.child.signalCode }).toEqual({ exitCode: null, signal: null });
  }, 180_000);

  it("Postgres cuts every service's connections for 3 s: 503s only, no process dies, nothing acknowledged lost", async () => {
    const row = await run.fault('Postgres sessions cut 3 s', async () => {
      // What a Postgres restart or a failover does to its clients: every session of the
      // shop's three databases ended (pg_terminate_backend), again every 500 ms for 3 s,
      // whatever it was doing — a query, an open transaction, an outbox batch waiting on Redis.
      const admin = new pg.Client({ connectionString: stack.dbs.catalog.url });
      await admin.connect();
      const from = Date.now();
      try {
        for (let cut = 0; cut < 7; cut++) {
          await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
            [Object.values(stack.dbs).map((db) => db.name)],
          );
          if (cut < 6) await sleep(500);
        }
      } finally {
        await admin.end();
      }
      return { from, to: Date.now() };
    });
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
    // node-postgres' pool listens for errors only on idle clients: before service-kit's
    // withClient, a session ended while its client was checked out between two queries
    // threw an uncaught 'error' event, and the process went down.
    const processes = [
      ...stack.catalog.map((p, i) => [`catalog ${i}`, p] as const),
      ...stack.order.map((p, i) => [`order ${i}`, p] as const),
      ['notifier', stack.notifier] as const,
    ];
    expect(processes.map(([name, p]) => `${name}: ${p.child.exitCode ?? p.child.signalCode ?? 'running'}`)).toEqual(
      processes.map(([name]) => `${name}: running`),
    );
  }, 180_000);

  it('the notifier SIGKILLed mid-queue and restarted: every notification exactly once', async () => {
    const row = await run.fault(
      'notifier SIGKILL',
      kill(
        () => stack.notifier.stop('SIGKILL'),
        2000,
        () => stack.restartNotifier(),
      ),
    );
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
  }, 180_000);
});

/**
 * What one Sentinel announced (`+sdown`, `+odown`, `+switch-master`, `+tilt`, …), with when:
 * a fault's row counts its promotions, and a failed check prints the events of its window,
 * so a second, unplanned failover (a primary too busy to answer for `down-after`) shows.
 */
const sentinelEvents = (port: number) => {
  const events: { at: number; text: string }[] = [];
  const subscriber = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: null });
  subscriber.on('error', () => {});
  const since = (from: number) => events.filter((e) => e.at >= from);
  subscriber.on('pmessage', (_pattern, channel: string, message: string) => {
    if (/^[+-]/.test(channel) && !/^\+(sentinel|slave|reboot)$/.test(channel))
      events.push({ at: Date.now(), text: `${channel} ${message}` });
  });
  return {
    start: async () => {
      await subscriber.connect();
      await subscriber.psubscribe('*');
    },
    since,
    describe: (from: number) =>
      `Sentinel events: ${
        since(from)
          .map((e) => `${clock(e.at)} ${e.text}`)
          .join(' | ') || 'none'
      }`,
    stop: () => subscriber.disconnect(),
  };
};

describe('chaos on Sentinel (primary, replica, 3 Sentinels)', () => {
  let stack: Stack;
  let run: ChaosRun;
  let announced: ReturnType<typeof sentinelEvents>;
  beforeAll(async () => {
    stack = await startStack({ env: CHAOS_ENV, redis: 'sentinel' });
    announced = sentinelEvents(stack.sentinel!.sentinels[0]!.port);
    await announced.start();
    run = new ChaosRun(
      stack,
      [],
      notificationJobState(
        async () => {
          const primary = await stack.sentinel!.currentPrimaryPort();
          const others = stack.sentinel!.dataNodes().filter((n) => n.port !== primary);
          return [primary, ...others.map((n) => n.port)];
        },
        () => stack,
      ),
    );
    run.products.push(...(await run.createProducts(100_000, 10, 'chaos-s')));
  }, 120_000);
  afterAll(async () => {
    announced?.stop();
    rows.push(...run.rows);
    await dumpRequests(run, 'sentinel', stack);
    await stack?.stop();
  });

  for (let repetition = 1; repetition <= 5; repetition++) {
    it(`primary SIGKILLed under load, failover ${repetition} of 5: first order ≤ 5 s after the kill, error window ≤ 5 s`, async () => {
      const topology = stack.sentinel!;
      const row = await run.fault(`Sentinel failover ${repetition}/5`, async () => {
        const primaryPort = await topology.currentPrimaryPort();
        const from = Date.now();
        const primary = topology.dataNodes().find((n) => n.port === primaryPort)!;
        process.kill(primary.pid, 'SIGKILL');
        await waitForFailover(topology, primaryPort);
        const to = Date.now();
        // The dead node comes back empty; Sentinel makes it the new primary's replica, so the next repetition has one.
        await topology.restartNode(primaryPort);
        return { from, to, notes: `promoted after ${((to - from) / 1000).toFixed(1)} s` };
      });
      // Promotions Sentinel announced from the kill to the checks (1 is the planned one).
      const promotions = announced.since(row.from).filter((e) => e.text.startsWith('+switch-master')).length;
      row.notes = `${row.notes}${promotions === 1 ? '' : `, ${promotions} promotions`}`;
      if (promotions !== 1) console.log(`Sentinel failover ${repetition}/5: ${announced.describe(row.from - 5_000)}`);
      expect(row.firstSuccessMs).toBeLessThanOrEqual(5_000);
      expect(row.errorWindowMs ?? 0).toBeLessThanOrEqual(5_000);
      expect(row.errors5xx, why5xx(row, stack)).toBe(0);
      expectNothingWrong(row, announced.describe(row.from - 5_000));
      await waitForReplica(topology);
    }, 180_000);
  }
});

describe('chaos on Cluster (3 primaries, 3 replicas)', () => {
  let stack: Stack;
  let run: ChaosRun;
  beforeAll(async () => {
    stack = await startStack({ env: CHAOS_ENV, redis: 'cluster' });
    run = new ChaosRun(stack, []);
    run.products.push(...(await run.createProducts(100_000, 10, 'chaos-c')));
  }, 120_000);
  afterAll(async () => {
    rows.push(...run.rows);
    await dumpRequests(run, 'cluster', stack);
    await stack?.stop();
  });

  it('the primary holding the notifications queue SIGKILLed under load: its replica takes over, errors end ≤ 5 s after the promotion', async () => {
    const cluster = stack.cluster!;
    let promotionMs = 0;
    const row = await run.fault('Cluster primary SIGKILL', async () => {
      const primaryPort = await cluster.primaryForSlot(calculateSlot(queueKey(queues.notifications, 'wait')));
      const from = Date.now();
      process.kill(cluster.nodes.find((n) => n.port === primaryPort)!.pid, 'SIGKILL');
      await waitFor(
        async () => (await cluster.primaryForSlot(calculateSlot(queueKey(queues.notifications, 'wait')))) !== primaryPort,
        {
          timeoutMs: 30_000,
          intervalMs: 50,
          description: "the dead primary's replica promoted",
        },
      );
      const to = Date.now();
      promotionMs = to - from;
      // The dead node rejoins from its nodes.conf as the new primary's replica.
      await cluster.restartNode(primaryPort);
      return { from, to, notes: `replica promoted after ${((to - from) / 1000).toFixed(1)} s` };
    });
    // The Cluster's own election (node timeout + vote, 3.5–4.4 s here) is not the clients'
    // doing: measured against it in the same run, the last failed answer comes within 5 s of
    // it (2.0–4.1 s seen: requests sent just before the promotion answer after their timeouts).
    expect(row.errorWindowMs ?? 0).toBeLessThanOrEqual(promotionMs + 5_000);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
  }, 180_000);

  it("the slots of a hot product's lock and cache entry migrated to another primary while orders flow", async () => {
    const cluster = stack.cluster!;
    const hot = run.products[0]!;
    const slots = [calculateSlot(keys.catalog.stockLock(hot)), calculateSlot(keys.catalog.productCache(hot))];
    let moved = 0;
    const row = await run.fault('Cluster slot migration', async () => {
      const from = Date.now();
      for (const slot of slots) {
        const owner = await cluster.primaryForSlot(slot);
        const target = (await cluster.topology()).find((n) => n.role === 'primary' && !n.failed && n.port !== owner)!;
        // Half-moved for 4 s each, as a reshard of a busy slot is: clients follow ASK meanwhile.
        moved += await cluster.migrateSlot(slot, target.port, { batch: 1, holdMs: 4000 });
        expect(await cluster.primaryForSlot(slot)).toBe(target.port);
      }
      return { from, to: Date.now(), notes: `slots ${slots.join(', ')} moved (${moved} keys)` };
    });
    // The hot product's keys were there to move, it was ordered while its slots were half-moved,
    // and it kept selling after the move.
    expect(moved).toBeGreaterThan(0);
    const hotDuring = run.requests
      .filter((r) => r.items.some((i) => i.productId === hot))
      .flatMap((r) => r.attempts)
      .filter((a) => a.status === 201 && a.at >= row.from && a.at <= row.to);
    expect(hotDuring.length).toBeGreaterThan(0);
    const hotAfter = run.requests
      .filter((r) => r.items.some((i) => i.productId === hot))
      .flatMap((r) => r.attempts)
      .filter((a) => a.status === 201 && a.at > row.to);
    expect(hotAfter.length).toBeGreaterThan(0);
    expect(row.errorWindowMs ?? 0).toBeLessThanOrEqual(5_000);
    expect(row.errors5xx, why5xx(row, stack)).toBe(0);
    expectNothingWrong(row);
  }, 180_000);
});

/**
 * Every Sentinel names a new primary. Only then does the test bring the dead node back:
 * a node restarted while some Sentinel still names it comes up as a primary of its own
 * (empty) and clients asking that Sentinel write to it until it is turned into a replica
 * — writes that are then lost (see docs/operations.md, "Sentinel").
 */
const waitForFailover = (topology: SentinelTopology, oldPort: number) =>
  waitFor(
    async () => {
      for (const s of topology.sentinels) {
        const addr = (await adminCommand(s.port, 'SENTINEL', 'get-master-addr-by-name', topology.masterName)) as string[];
        if (Number(addr[1]) === oldPort) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 50, description: 'every Sentinel to name the promoted replica' },
  );

/** The new primary has a replica in sync again and every Sentinel knows it (so the next failover can happen). */
const waitForReplica = async (topology: SentinelTopology) => {
  await waitFor(
    async () => {
      const port = await topology.currentPrimaryPort();
      const replica = topology.dataNodes().find((n) => n.port !== port)!;
      const info = await infoFields(replica.port, 'replication').catch(() => ({}) as Record<string, string>);
      if (info.master_link_status !== 'up' || Number(info.master_port) !== port) return false;
      for (const s of topology.sentinels) {
        const master = (await infoFields(s.port, 'sentinel')).master0 ?? '';
        if (!master.includes(`:${port},`) || !/slaves=1/.test(master)) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, description: 'replica in sync and known to every Sentinel' },
  );
};

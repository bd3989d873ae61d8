import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { jobIds, NOTIFICATION_JOB_OPTIONS, type NotificationJob, newEvent, queuePrefix, queues } from '@storefront/contracts';
import { createRedis, type RedisClient } from '@storefront/redis-kit';
import { lineReader, stopChild, track } from '@storefront/testing';
import { Queue, QueueEvents } from 'bullmq';
import pg from 'pg';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { cpuDuring } from './process-cpu.js';
import { median, percentile } from './stats.js';

const noopWorker = fileURLToPath(new URL('./noop-worker.js', import.meta.url));
const durableWorker = fileURLToPath(new URL('./durable-worker.js', import.meta.url));

const job = (): NotificationJob => {
  const cause = randomUUID();
  return newEvent('notification.requested', {
    customerId: 'bench-customer',
    orderId: randomUUID(),
    productId: null,
    causeEventId: cause,
    kind: 'order.placed',
    message: 'bench',
  });
};

/**
 * The notifier with its real work (idempotency check + delivery record in Postgres)
 * against a no-op BullMQ worker, both at the notifier's default concurrency (32) in their own process:
 * throughput on a backlog, then add → completed latency at a paced 500 jobs/s. A third
 * worker whose job is one Postgres INSERT and its commit (durable-worker.ts) shows how much
 * of the gap a durable record alone accounts for.
 */
export const notifierWorker = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const db = await env.database('bench_notifier');
  // Both at the notifier's default concurrency: keep it equal to NOTIFY_CONCURRENCY's default in
  // services/notifier/src/config.ts (the bench starts services; it does not import them).
  const concurrency = '32';
  const notifier = await env.service('notifier', {
    DATABASE_URL: db.url,
    NOTIFY_RATE_PER_SECOND: '1000000',
    NOTIFY_CONCURRENCY: concurrency,
  });
  const queueNames = { real: queues.notifications, noop: 'bench-noop', durable: 'bench-durable' } as const;
  const noop = track(
    spawn(process.execPath, [noopWorker, env.redis.url, queueNames.noop, concurrency], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const durableDb = await env.database('bench_durable');
  const durable = track(
    spawn(process.execPath, [durableWorker, env.redis.url, queueNames.durable, concurrency, durableDb.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all([lineReader(noop.stdout!).nextJson(), lineReader(durable.stdout!).nextJson()]);
  const connection = createRedis({ url: env.redis.url }, { role: 'producer' });
  type Worked = keyof typeof queueNames;
  const each = <T>(make: (name: string) => T) =>
    Object.fromEntries(Object.entries(queueNames).map(([key, name]) => [key, make(name)])) as Record<Worked, T>;
  // Each job leaves ≈ 4 entries in its queue's events stream, which BullMQ trims to ≈ 10 000 by
  // default: a 3 000-job drain through the fastest worker could outrun this process's reading
  // of it, and a trimmed `completed` was never heard (a full run failed so, waiting on a
  // completed job). The bench's queues keep 100 000 (≈ 10 MB in its own Redis).
  const target = each(
    (name) =>
      new Queue<NotificationJob>(name, { connection, prefix: queuePrefix(name), streams: { events: { maxLen: 100_000 } } }),
  );
  // BullMQ does not close connections it was handed: keep them to close at the end.
  const eventConnections: RedisClient[] = [];
  const events = each((name) => {
    const eventConnection = createRedis({ url: env.redis.url }, { role: 'worker' });
    eventConnections.push(eventConnection);
    return new QueueEvents(name, { connection: eventConnection, prefix: queuePrefix(name) });
  });
  await Promise.all(Object.values(events).map((e) => e.waitUntilReady()));
  const completedAt = new Map<string, number>();
  for (const e of Object.values(events)) e.on('completed', ({ jobId }) => completedAt.set(jobId, performance.now()));

  const backlog = budget.quick ? 300 : 3000;
  const throughput = each((): number[] => []);
  // Each worker's CPU per job (its process, from /proc): what a job costs it, steadier than jobs/s here.
  const cpuPerJob = each((): number[] => []);
  // The order the workers take their turns in, in the warm-up and in every round.
  const inTurn = ['noop', 'durable', 'real'] as const;
  const pids = { real: notifier.pid, noop: noop.pid!, durable: durable.pid! };
  const drain = async (name: Worked, count: number) => {
    const jobs = Array.from({ length: count }, () => job());
    const ids = jobs.map((j) => jobIds.notification(j.data.causeEventId, j.data.customerId));
    const started = performance.now();
    await target[name].addBulk(
      jobs.map((data, i) => ({ name: 'notify', data, opts: { ...NOTIFICATION_JOB_OPTIONS, jobId: ids[i] } })),
    );
    await waitAll(target[name], ids, completedAt, 60_000);
    return count / ((Math.max(...ids.map((id) => completedAt.get(id)!)) - started) / 1000);
  };
  // A warm-up, as the other suites have: each worker's first jobs run before its JIT has compiled them.
  const warmUpJobs = budget.quick ? 100 : 3000;
  for (const name of inTurn) await drain(name, warmUpJobs);
  for (let round = 0; round < budget.rounds; round++) {
    for (const name of inTurn) {
      const { result: rate, cpuMs } = await cpuDuring({ worker: [pids[name]] }, () => drain(name, backlog));
      throughput[name].push(rate);
      if (cpuMs) cpuPerJob[name].push((cpuMs.worker * 1000) / backlog);
      budget.log(
        `  queue round ${round + 1}/${budget.rounds} ${name.padEnd(7)} ${Math.round(rate)} jobs/s${cpuMs ? `, ${Math.round(cpuPerJob[name].at(-1)!)} µs CPU per job` : ''}`,
      );
    }
  }
  const cpuText = (name: Worked) => (cpuPerJob[name].length ? `, ${Math.round(median(cpuPerJob[name]))} µs CPU per job` : '');

  // Every durable job left its row: the ceiling did the work it stands for.
  const recorder = new pg.Client({ connectionString: durableDb.url });
  await recorder.connect();
  const recorded = Number((await recorder.query('SELECT count(*) AS n FROM durable_records')).rows[0].n);
  await recorder.end();
  const durableCorrect = recorded === warmUpJobs + backlog * budget.rounds;

  // Latency at a paced 500 jobs/s.
  const latency = { real: [] as number[], noop: [] as number[] };
  const pacedSeconds = budget.quick ? 1 : 3;
  for (const name of ['noop', 'real'] as const) {
    const addedAt = new Map<string, number>();
    const ids: string[] = [];
    for (let tick = 0; tick < pacedSeconds * 50; tick++) {
      const batch = Array.from({ length: 10 }, () => job());
      const start = performance.now();
      for (const data of batch) {
        const id = jobIds.notification(data.data.causeEventId, data.data.customerId);
        ids.push(id);
        addedAt.set(id, performance.now());
        void target[name].add('notify', data, { ...NOTIFICATION_JOB_OPTIONS, jobId: id });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 20 - (performance.now() - start))));
    }
    await waitAll(target[name], ids, completedAt, 60_000);
    latency[name] = ids.map((id) => completedAt.get(id)! - addedAt.get(id)!);
  }
  const rows: Row[] = [];
  const [tReal, tNoop, tDurable] = [median(throughput.real), median(throughput.noop), median(throughput.durable)];
  const [pReal, pNoop] = [percentile(latency.real, 99), percentile(latency.noop, 99)];
  rows.push(
    {
      name: 'notifier worker, real work (idempotency + delivery record)',
      measured: `${Math.round(tReal)} jobs/s${cpuText('real')}`,
      ceiling: `no-op BullMQ worker ${Math.round(tNoop)} jobs/s${cpuText('noop')}`,
      ratio: tReal / tNoop,
      goal: '>= 0.80x jobs/s',
      met: tReal / tNoop >= 0.8,
      correct: true,
    },
    {
      name: 'notifier worker against one durable INSERT per job',
      measured: `${Math.round(tReal)} jobs/s${cpuText('real')}`,
      ceiling: `one INSERT + commit per job ${Math.round(tDurable)} jobs/s${cpuText('durable')} (no-op ${(tDurable / tNoop).toFixed(2)}x)`,
      ratio: tReal / tDurable,
      goal: 'separates the cost of a durable record from the rest of the job',
      met: null,
      correct: durableCorrect,
      ...(durableCorrect ? {} : { note: `${recorded} rows for ${warmUpJobs + backlog * budget.rounds} jobs` }),
    },
    {
      name: 'notifier add → completed p99 at 500 jobs/s',
      measured: `p99 ${pReal.toFixed(1)} ms (p50 ${percentile(latency.real, 50).toFixed(1)} ms)`,
      ceiling: `no-op worker p99 ${pNoop.toFixed(1)} ms`,
      ratio: pReal / pNoop,
      goal: 'p99 <= 2x',
      met: pReal <= 2 * pNoop,
      correct: true,
    },
  );
  await Promise.all([...Object.values(target).map((q) => q.close()), ...Object.values(events).map((e) => e.close())]);
  connection.disconnect();
  for (const c of eventConnections) c.disconnect();
  // Stopped, not left to the end of the run: it works the shop's notification queue, and the
  // order flow's orders put jobs on it — it took CPU from the services measured there.
  await Promise.all([stopChild(noop), stopChild(durable), notifier.stop('SIGTERM')]);
  return rows;
};

/**
 * Wait until every job's `completed` event was heard. On timeout the error names the queue
 * and the state of the first missing jobs: `completed` there means the event was missed
 * (the events stream is trimmed), anything else that the job itself did not finish.
 */
const waitAll = async (queue: Queue, ids: string[], completedAt: Map<string, number>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!ids.every((id) => completedAt.has(id))) {
    if (Date.now() > deadline) {
      const missing = ids.filter((id) => !completedAt.has(id));
      const states = await Promise.all(missing.slice(0, 3).map(async (id) => `${id} ${await queue.getJobState(id)}`));
      throw new Error(
        `${queue.name}: ${missing.length} of ${ids.length} jobs not heard completing in ${timeoutMs / 1000} s (${states.join('; ')})`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};

import { type Health, perRegistry } from '@storefront/service-kit';
import type { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

const watchdogMetrics = perRegistry((registers) => ({
  restarts: new Counter({
    name: 'worker_restarted_total',
    help: 'BullMQ workers restarted in-process because they stopped finishing jobs while jobs were waiting',
    labelNames: ['queue'] as const,
    registers,
  }),
}));

/** Options for {@link WorkerWatchdog}. */
export interface WorkerWatchdogOptions {
  /** The queue's name (metrics and logs). */
  name: string;
  /** Makes a worker for the queue; called once at start and once per restart. */
  create: () => Worker;
  /** A producer-side handle on the same queue, to count waiting jobs. */
  queue: Pick<Queue, 'getWaitingCount'>;
  /** Jobs waiting and none finished for this long: stalled. Longer than the longest job. */
  stallMs: number;
  health: Health;
  logger: Logger;
  registry: Registry;
}

/**
 * Keeps a BullMQ worker making progress. A worker can stop taking jobs without an error
 * or a closed connection (taskforcesh/bullmq#4378 is one such bug: running, no error,
 * processing nothing), and nothing in BullMQ notices. Every `stallMs / 2` this asks the
 * queue how many jobs wait; with jobs waiting and no job finished (completed or failed)
 * for `stallMs`, the worker is stalled — so `stallMs` must exceed the longest job:
 *
 * 1. readiness fails (`worker:<queue>`) while it is;
 * 2. still stalled at the next check, the worker is force-closed and a new one made (its
 *    event listeners carried over); `worker_restarted_total`;
 * 3. if the new worker stalls too before it made any progress, the process cannot mend
 *    itself: liveness fails (`Health.markUnrecoverable`) and the orchestrator restarts it.
 *
 * A queue it cannot ask (Redis away) is not a stalled worker: readiness already says
 * Redis is unreachable, and a restart would not help.
 */
export class WorkerWatchdog {
  #worker: Worker;
  #lastProgressAt = Date.now();
  #stalledSince: number | undefined;
  #restartedWithoutProgress = false;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #closed = false;
  /** Listeners every worker gets from `create` and the watchdog itself. */
  readonly #own = new Set<unknown>();

  constructor(private readonly options: WorkerWatchdogOptions) {
    this.#worker = this.#watch(options.create());
  }

  /** The worker in service now (a restart replaces it). */
  get worker(): Worker {
    return this.#worker;
  }

  /** Start checking. */
  start(): void {
    this.#timer ??= setInterval(() => void this.check(), Math.max(50, this.options.stallMs / 2));
    this.#timer.unref();
  }

  /** The readiness check: rejects while the worker is stalled. */
  readiness = async (): Promise<void> => {
    if (this.#stalledSince !== undefined) {
      throw new Error(
        `worker stalled: jobs waiting, none finished for ${Math.round((Date.now() - this.#stalledSince + this.options.stallMs) / 1000)} s`,
      );
    }
  };

  /** One check (the timer calls it; tests may too). */
  async check(): Promise<void> {
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    try {
      const waiting = await this.options.queue.getWaitingCount().catch(() => undefined);
      if (this.#closed) return;
      // Nothing waiting, or Redis cannot be asked (no worker can progress then; the clock
      // restarts so an outage longer than stallMs does not count against the worker).
      if (waiting === undefined || waiting === 0) return this.#progressed();
      if (Date.now() - this.#lastProgressAt < this.options.stallMs && this.#worker.isRunning()) return;
      // First sight of a stall: not ready. Still stalled at the next check: act.
      if (this.#stalledSince === undefined) {
        this.#stalledSince = Date.now();
        return;
      }
      if (this.#restartedWithoutProgress) {
        this.options.health.markUnrecoverable(`worker ${this.options.name} stalled again after a restart`);
        return;
      }
      await this.#restart(waiting);
    } finally {
      this.#checking = false;
    }
  }

  /** Stop checking and close the worker (finishing the jobs in hand). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#worker.close();
  }

  async #restart(waiting: number): Promise<void> {
    const { name, logger, registry } = this.options;
    logger.warn({ queue: name, waiting, stallMs: this.options.stallMs }, 'worker stalled; restarting it');
    const old = this.#worker;
    // Force: a stuck job would hold a graceful close forever. Its lock lapses and BullMQ's
    // stalled-job check hands it to a live worker.
    await Promise.race([old.close(true).catch(() => {}), new Promise((r) => setTimeout(r, this.options.stallMs).unref())]);
    const fresh = this.#watch(this.options.create());
    // Carry over what callers added to the old worker (not what `create` and the watchdog added).
    for (const event of old.eventNames()) {
      for (const listener of old.listeners(event)) {
        if (!this.#own.has(listener)) fresh.on(event as 'error', listener as () => void);
      }
    }
    this.#worker = fresh;
    this.#restartedWithoutProgress = true;
    this.#lastProgressAt = Date.now();
    watchdogMetrics(registry).restarts.inc({ queue: name });
  }

  #progressed(): void {
    this.#lastProgressAt = Date.now();
    this.#stalledSince = undefined;
    this.#restartedWithoutProgress = false;
  }

  #watch(worker: Worker): Worker {
    const progressed = () => this.#progressed();
    for (const event of ['completed', 'failed'] as const) worker.on(event, progressed);
    for (const event of worker.eventNames()) for (const listener of worker.listeners(event)) this.#own.add(listener);
    return worker;
  }
}

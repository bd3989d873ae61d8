import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { perRegistry } from './per-registry.js';

/** Options for {@link Sweeper}. */
export interface SweeperOptions {
  /** Names the sweeper in logs and in the `sweeper` metric label. */
  name: string;
  /** Time between the end of one run and the start of the next. */
  intervalMs: number;
  logger: Logger;
  /** Where `sweeper_runs_total` and `sweeper_resolved_total` go. */
  registry: Registry;
}

const sweeperMetrics = perRegistry((registers) => ({
  runs: new Counter({
    name: 'sweeper_runs_total',
    help: 'Sweeper runs by outcome (ok, failed)',
    labelNames: ['sweeper', 'outcome'] as const,
    registers,
  }),
  resolved: new Counter({
    name: 'sweeper_resolved_total',
    help: 'Items a sweeper resolved (e.g. orders expired from Postgres because their delayed job was lost)',
    labelNames: ['sweeper'] as const,
    registers,
  }),
}));

/**
 * Periodic repair work driven by the system of record: `sweep` runs every `intervalMs`
 * (measured from the end of the previous run, so two runs never overlap in one process)
 * and resolves with how many items it fixed. A failing run is logged and counted; the
 * next one runs on schedule. Sweeps must be safe to run in several instances at once
 * (claim with `FOR UPDATE SKIP LOCKED`, or make each fix a conditional update).
 */
export class Sweeper {
  readonly #options: SweeperOptions;
  readonly #metrics: ReturnType<typeof sweeperMetrics>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = true;

  constructor(
    private readonly sweep: () => Promise<number>,
    options: SweeperOptions,
  ) {
    this.#options = options;
    this.#metrics = sweeperMetrics(options.registry);
  }

  /** Schedule the first run after one interval. */
  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  /** Stop scheduling and wait for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One run now; resolves with how many items it resolved (0 when it failed). */
  async runOnce(): Promise<number> {
    const label = { sweeper: this.#options.name };
    try {
      const resolved = await this.sweep();
      this.#metrics.runs.inc({ ...label, outcome: 'ok' });
      if (resolved > 0) {
        this.#metrics.resolved.inc(label, resolved);
        this.#options.logger.info({ sweeper: this.#options.name, resolved }, 'sweeper resolved items');
      }
      return resolved;
    } catch (err) {
      this.#metrics.runs.inc({ ...label, outcome: 'failed' });
      this.#options.logger.warn({ err, sweeper: this.#options.name }, 'sweeper run failed');
      return 0;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#options.intervalMs);
    this.#timer.unref();
  }
}

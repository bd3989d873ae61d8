import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';

/**
 * Shutdown phases, in the order they run: readiness goes 503, HTTP stops accepting and
 * drains, workers (BullMQ workers, the outbox relay, event listeners) finish what they
 * hold, then the queues they may still add to close, the instance deregisters, Redis
 * quits, the database closes. Steps are grouped by phase, so code may add them in any order.
 */
export const SHUTDOWN_PHASES = ['readiness', 'http', 'workers', 'queues', 'registry', 'redis', 'database'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

type Step = { phase: ShutdownPhase; name: string; run: () => Promise<unknown> | unknown };

/**
 * Ordered shutdown steps. A failing step is logged and the next one still runs; so is a
 * step that does not finish within `stepTimeoutMs` (a queue or an unsubscribe waiting on a
 * Redis that is gone must not keep the database from closing).
 */
export class Shutdown {
  readonly #steps: Step[] = [];
  #running: Promise<boolean> | undefined;

  /**
   * @param logger where step failures go
   * @param stepTimeoutMs how long one step may take before it counts as failed. Default 5 000 ms.
   */
  constructor(
    private readonly logger: Logger,
    private readonly stepTimeoutMs = 5_000,
  ) {}

  /** Add a step to a phase; steps of one phase run in the order they were added. */
  add(phase: ShutdownPhase, name: string, run: Step['run']): this {
    this.#steps.push({ phase, name, run });
    return this;
  }

  /** Run every step once, phase by phase. Resolves `true` when every step succeeded. */
  run(): Promise<boolean> {
    this.#running ??= (async () => {
      let ok = true;
      const ordered = SHUTDOWN_PHASES.flatMap((phase) => this.#steps.filter((s) => s.phase === phase));
      for (const step of ordered) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(step.run),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`did not finish within ${this.stepTimeoutMs} ms`)), this.stepTimeoutMs);
            }),
          ]);
          this.logger.debug({ phase: step.phase, step: step.name }, 'shutdown step done');
        } catch (err) {
          ok = false;
          this.logger.error({ err, phase: step.phase, step: step.name }, 'shutdown step failed');
        } finally {
          clearTimeout(timer);
        }
      }
      return ok;
    })();
    return this.#running;
  }
}

/**
 * Run `shutdown` on SIGTERM / SIGINT (and on an uncaught error, exiting 1). A second
 * signal or the timeout exits at once. close-with-grace owns the process-level wiring.
 */
export const exitOnSignals = (shutdown: Shutdown, logger: Logger, timeoutMs: number): void => {
  closeWithGrace({ delay: timeoutMs, logger: { error: (m: unknown) => logger.error(m) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down');
    const ok = await shutdown.run();
    if (!ok || err) process.exitCode = 1;
    logger.info('shutdown complete');
  });
};

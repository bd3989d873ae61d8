import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';

type Hook = { name: string; run: () => Promise<unknown> | unknown };

/**
 * Ordered shutdown steps. `main.ts` adds them in the order they must run:
 * readiness 503 → stop accepting and drain HTTP → close workers and queues →
 * deregister → quit Redis → close the database. A failing step is logged and the
 * next one still runs.
 */
export class Shutdown {
  readonly #hooks: Hook[] = [];
  #running: Promise<boolean> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Append a step. */
  add(name: string, run: Hook['run']): this {
    this.#hooks.push({ name, run });
    return this;
  }

  /** Run every step once, in order. Resolves `true` when every step succeeded. */
  run(): Promise<boolean> {
    this.#running ??= (async () => {
      let ok = true;
      for (const hook of this.#hooks) {
        try {
          await hook.run();
          this.logger.debug({ step: hook.name }, 'shutdown step done');
        } catch (err) {
          ok = false;
          this.logger.error({ err, step: hook.name }, 'shutdown step failed');
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

import { Router } from 'express';

/** A readiness check: resolves when the dependency is usable, rejects (or times out) when not. */
export type HealthCheck = () => Promise<unknown>;

/** Readiness state shared between the health routes and shutdown. */
export class Health {
  #draining = false;
  #unrecoverable: string | undefined;
  readonly #onUnrecoverable: ((reason: string) => void)[] = [];
  readonly #checks = new Map<string, HealthCheck>();

  /** Register a named readiness check (e.g. `redis`, `database`, `registry`). */
  addCheck(name: string, check: HealthCheck): void {
    this.#checks.set(name, check);
  }

  /** Mark the instance as shutting down: readiness answers 503 from now on. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Say the process cannot recover by itself (e.g. a worker that stalled again after being
   * restarted in-process): `/health/live` answers 503 from now on, so the orchestrator
   * restarts it. Not for a dependency that is down — a restart would not bring it back.
   */
  markUnrecoverable(reason: string): void {
    if (this.#unrecoverable !== undefined) return;
    this.#unrecoverable = reason;
    for (const listener of this.#onUnrecoverable) listener(reason);
  }

  /** Be told once the process is marked unrecoverable (`bootService` shuts it down and exits 1). */
  onUnrecoverable(listener: (reason: string) => void): void {
    this.#onUnrecoverable.push(listener);
  }

  /** Why the process cannot recover by itself, if it cannot. */
  get unrecoverable(): string | undefined {
    return this.#unrecoverable;
  }

  /** Run every check with a timeout; returns per-check status. */
  async readiness(timeoutMs = 1000): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const entries = await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
            }),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : String(error)] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const ready = !this.#draining && entries.every(([, status]) => status === 'ok');
    return { ready, checks: this.#draining ? { ...checks, shutdown: 'draining' } : checks };
  }
}

/** `/health/live` (the process answers and can recover by itself) and `/health/ready` (dependencies answer, not draining). */
export const healthRouter = (health: Health): Router => {
  const router = Router();
  router.get('/live', (_req, res) => {
    const reason = health.unrecoverable;
    if (reason) res.status(503).json({ status: 'unrecoverable', reason });
    else res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const { ready, checks } = await health.readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  return router;
};

import type { StorefrontEvent } from '@storefront/contracts';
import { withTransaction } from '@storefront/service-kit';
import type pg from 'pg';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Options for {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  /** Poll period; also the retry period for rows whose handling failed. Default 500 ms. */
  intervalMs?: number;
  /** Rows per transaction. Default 50. */
  batchSize?: number;
  logger: Logger;
  registry: Registry;
}

/**
 * Moves outbox rows to Redis. Each batch is claimed with `FOR UPDATE SKIP LOCKED`, so
 * several order instances relay in parallel without handling a row twice at once; a
 * row is marked published only after its handler succeeded, so anything Redis lost or
 * refused (down, failover) is re-driven on a later run. Handlers must be idempotent
 * (BullMQ job ids derived from the event make them so).
 */
export class OutboxRelay {
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #logger: Logger;
  readonly #relayed: Counter<'outcome'>;
  readonly #pending: Gauge;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly db: pg.Pool,
    private readonly handle: (event: StorefrontEvent) => Promise<void>,
    options: OutboxRelayOptions,
  ) {
    this.#intervalMs = options.intervalMs ?? 500;
    this.#batchSize = options.batchSize ?? 50;
    this.#logger = options.logger;
    this.#relayed = new Counter({
      name: 'outbox_relayed_total',
      help: 'Outbox rows handled, by outcome (published, failed: retried later)',
      labelNames: ['outcome'] as const,
      registers: [options.registry],
    });
    this.#pending = new Gauge({
      name: 'outbox_pending',
      help: 'Outbox rows not yet published',
      registers: [options.registry],
      collect: async () => {
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
        this.#pending.set(rows[0]?.n ?? 0);
      },
    });
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.#intervalMs);
    this.#timer.unref();
    this.kick();
  }

  /** Stop polling and wait for the run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Run soon (coalesced: a kick during a run schedules exactly one more run). */
  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#again && this.#timer) {
        this.#again = false;
        this.kick();
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while ((await this.runOnce()) === this.#batchSize) {
        // a full batch: there may be more
      }
    } catch (err) {
      this.#logger.warn({ err }, 'outbox relay run failed');
    }
  }

  /** Handle one batch; resolves with how many rows it looked at. */
  runOnce(): Promise<number> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<{ id: string; event: StorefrontEvent }>(
        'SELECT id, event FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [this.#batchSize],
      );
      for (const row of rows) {
        try {
          await this.handle(row.event);
          await client.query('UPDATE outbox SET published_at = now() WHERE id = $1', [row.id]);
          this.#relayed.inc({ outcome: 'published' });
        } catch (err) {
          await client.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [row.id, String(err)]);
          this.#relayed.inc({ outcome: 'failed' });
          this.#logger.warn({ err, outboxId: row.id, type: row.event.type }, 'outbox row not published; will retry');
        }
      }
      return rows.length;
    });
  }
}

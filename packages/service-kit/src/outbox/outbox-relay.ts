import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { withClient } from '../database.js';

/** Options for {@link OutboxRelay}. */
export interface OutboxRelayOptions<E = unknown> {
  /** Poll period while things work. Default 500 ms. */
  intervalMs?: number;
  /** Longest pause after runs that published nothing (the pause doubles from `intervalMs`). Default 5 000 ms. */
  maxBackoffMs?: number;
  /** Rows per transaction. Default 50. */
  batchSize?: number;
  /** The outbox table (see `outboxTableSql`). Default `outbox`. */
  table?: string;
  /**
   * Rows of one batch handled at once. Default 1 (strictly in order). Above 1, a handler
   * that waits on a slow dependency (a release behind a contended lock) no longer holds up
   * every row behind it; rows with the same `orderingKey` still run one after another.
   */
  concurrency?: number;
  /**
   * Rows with the same key are handled in commit order, and a failed row holds back the
   * later rows of its key until a later run (e.g. one order's events). Default: none (each
   * row on its own; with `concurrency` 1 the batch still runs in commit order).
   */
  orderingKey?: (event: E) => string;
  logger: Logger;
  /** Where `outbox_relayed_total` and `outbox_pending` go. */
  registry: Registry;
}

/** What one batch did. */
export interface BatchResult {
  /** Rows claimed. */
  seen: number;
  /** Rows whose handler succeeded and that are now marked published. */
  published: number;
}

type Row<E> = { id: string; event: E; trace_context: Record<string, string> | null };

const tracer = trace.getTracer('storefront.outbox');

/**
 * The transactional outbox's relay: moves rows a service committed together with its own
 * state to the world outside its database (queues, pub/sub, other services).
 *
 * - Each batch is claimed with `FOR UPDATE SKIP LOCKED`, so relays in several instances
 *   share the work without handling one row at the same time.
 * - A row is marked published only after its handler succeeded; a failure leaves it
 *   pending (with `attempts` and `last_error`) for a later run. Delivery is therefore at
 *   least once: handlers must be idempotent.
 * - A full batch that published something is followed at once by the next one. A batch
 *   that published nothing (the handler's dependency is down) pauses the relay, doubling
 *   from `intervalMs` up to `maxBackoffMs`, so an outage costs a few queries, not a loop.
 * - Each row is handled in a span `outbox relay` whose parent is the trace context stored
 *   with the row (`outboxTraceContextSql`): the relay continues the trace of the request
 *   that wrote it, and the jobs and events it sends carry that trace on.
 */
export class OutboxRelay<E> {
  readonly #intervalMs: number;
  readonly #maxBackoffMs: number;
  readonly #batchSize: number;
  readonly #table: string;
  readonly #concurrency: number;
  readonly #orderingKey: ((event: E) => string) | undefined;
  readonly #logger: Logger;
  readonly #relayed: Counter<'outcome'>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #failedRuns = 0;
  #pausedUntil = 0;

  constructor(
    private readonly db: pg.Pool,
    private readonly handle: (event: E) => Promise<void>,
    options: OutboxRelayOptions<E>,
  ) {
    this.#intervalMs = options.intervalMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#batchSize = options.batchSize ?? 50;
    if (!Number.isSafeInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new RangeError(`outbox relay batchSize must be a positive integer, got ${this.#batchSize}`);
    }
    this.#table = options.table ?? 'outbox';
    this.#concurrency = options.concurrency ?? 1;
    this.#orderingKey = options.orderingKey;
    this.#logger = options.logger;
    this.#relayed = new Counter({
      name: 'outbox_relayed_total',
      help: 'Outbox rows handled, by outcome (published; failed: left pending for a later run)',
      labelNames: ['outcome'] as const,
      registers: [options.registry],
    });
    const pending = new Gauge({
      name: 'outbox_pending',
      help: 'Outbox rows not yet published',
      registers: [options.registry],
      collect: async () => {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${this.#table} WHERE published_at IS NULL`,
        );
        pending.set(rows[0]?.n ?? 0);
      },
    });
  }

  /** Start relaying: a run now, then one every `intervalMs` (or after the back-off pause). */
  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /** Stop scheduling runs and wait for the one in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * Run soon: call it after committing a row, so the row goes out now rather than at the
   * next poll. Coalesced (a kick during a run schedules exactly one more run); ignored
   * while the relay is paused after failures, and before `start()`.
   */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (Date.now() < this.#pausedUntil) return; // the timer set at the end of the last run comes then
    this.#run();
  }

  /**
   * Drain now, then schedule the next run: after `intervalMs`, or at the end of the pause.
   * The timer calls this directly, not `kick()`: a timer may fire a millisecond before the
   * wall clock says the pause is over, and must not then be dropped.
   */
  #run(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      const pause = this.#pausedUntil - Date.now();
      if (this.#again && pause <= 0) {
        this.#again = false;
        this.#run();
        return;
      }
      this.#again = false;
      this.#timer = setTimeout(() => this.#run(), Math.max(this.#intervalMs, pause));
      this.#timer.unref();
    });
  }

  async #drain(): Promise<void> {
    try {
      for (;;) {
        const { seen, published } = await this.runOnce();
        if (seen > 0 && published === 0) return this.#backOff();
        this.#failedRuns = 0;
        if (seen < this.#batchSize) return;
      }
    } catch (err) {
      this.#logger.warn({ err }, 'outbox relay run failed');
      this.#backOff();
    }
  }

  #backOff(): void {
    this.#failedRuns++;
    const pause = Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** (this.#failedRuns - 1));
    this.#pausedUntil = Date.now() + pause;
  }

  /**
   * Hand the rows published in the last `withinMs` to the relay again (they become pending
   * and go out in commit order, older unpublished rows first), and run soon. For when the
   * place the handler published to lost what it received — a Redis that came back empty —
   * which only the database still knows. Handlers are idempotent, so rows whose effects
   * survived are harmless repeats. Resolves with how many rows were handed back.
   */
  async redrive(withinMs: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE ${this.#table} SET published_at = NULL WHERE published_at >= now() - make_interval(secs => $1::float8 / 1000)`,
      [withinMs],
    );
    this.#pausedUntil = 0;
    this.kick();
    return rowCount ?? 0;
  }

  /**
   * Claim and handle one batch, in one transaction of two round trips when every row goes
   * out: `BEGIN; SELECT … FOR UPDATE SKIP LOCKED` in one message, then `UPDATE …; COMMIT`
   * in another (plus one `UPDATE` per failed row). Several statements in one message is
   * Postgres' simple-query protocol, which takes no parameters: the batch size is an integer
   * checked at construction and the ids are the table's own bigints. The rows stay locked
   * from the claim to the commit, and count as published only once that commits.
   */
  runOnce(): Promise<BatchResult> {
    return withClient(this.db, async (client) => {
      try {
        const [, claimed] = (await client.query(
          `BEGIN; SELECT id, event, trace_context FROM ${this.#table} WHERE published_at IS NULL ORDER BY id LIMIT ${this.#batchSize} FOR UPDATE SKIP LOCKED`,
        )) as unknown as [pg.QueryResult, pg.QueryResult<Row<E>>];
        const published = await this.#handleBatch(client, claimed.rows);
        await client.query(
          published.length > 0
            ? `UPDATE ${this.#table} SET published_at = now() WHERE id = ANY('{${published.join(',')}}'::bigint[]); COMMIT`
            : 'COMMIT',
        );
        if (published.length > 0) this.#relayed.inc({ outcome: 'published' }, published.length);
        return { seen: claimed.rows.length, published: published.length };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  /** Run the handler on each claimed row; resolves with the ids that went out (in the claim's transaction). */
  async #handleBatch(client: pg.PoolClient, rows: Row<E>[]): Promise<string[]> {
    // Marked published together at the end of the batch: one statement, in the same
    // transaction as the claim, so a row still counts as published only once it commits.
    const published: string[] = [];
    const handleRow = (row: Row<E>) =>
      tracer.startActiveSpan(
        'outbox relay',
        { kind: SpanKind.PRODUCER, attributes: { 'outbox.table': this.#table, 'outbox.id': row.id } },
        row.trace_context ? propagation.extract(ROOT_CONTEXT, row.trace_context) : ROOT_CONTEXT,
        async (span) => {
          try {
            await this.handle(row.event);
            published.push(row.id);
            return true;
          } catch (err) {
            span.recordException(err as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
            await client.query(`UPDATE ${this.#table} SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, [
              row.id,
              String(err),
            ]);
            this.#relayed.inc({ outcome: 'failed' });
            this.#logger.warn({ err, outboxId: row.id }, 'outbox row not published; will retry');
            return false;
          } finally {
            span.end();
          }
        },
      );
    // One lane per ordering key, in commit order; lanes run `concurrency` at a time. A lane
    // stops at its first failure, so a later event of that key never overtakes it.
    const lanes = new Map<string, Row<E>[]>();
    for (const row of rows) {
      const key = this.#orderingKey?.(row.event) ?? row.id;
      lanes.set(key, [...(lanes.get(key) ?? []), row]);
    }
    const queue = [...lanes.values()];
    const worker = async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift()) {
        for (const row of lane) if (!(await handleRow(row))) break;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
    return published;
  }
}

import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { consumeLinked, currentCarrier } from '../tracing/spans.js';
import { eventMetrics } from './event-metrics.js';
import type { EventSchema, TypedEvent } from './event-schema.js';

/** Options for {@link EventStream}. */
export interface EventStreamOptions<E extends TypedEvent> {
  /** Checks every appended and every consumed message (a zod schema fits). */
  schema: EventSchema<E>;
  /** Stream key. */
  stream: string;
  /** Where messages go after `maxDeliveries` failed deliveries, or at once when they fail validation. */
  deadLetterStream: string;
  /** Approximate cap on the stream's length (XADD MAXLEN ~). Default 100 000. */
  maxLen?: number;
  /** Where metrics go. Default: none. */
  registry?: Registry;
}

/** Options for {@link EventStream.consume}. */
export interface ConsumeOptions {
  group: string;
  /** Unique per process (e.g. the instance id). */
  consumer: string;
  /** Messages per read. Default 16. */
  count?: number;
  /** How long one XREADGROUP blocks. Default 1 000 ms. */
  blockMs?: number;
  /** A message pending this long on a consumer (crashed or stuck) is claimed by another. Default 30 000 ms. */
  claimIdleMs?: number;
  /** Deliveries before a message is dead-lettered. Default 5. */
  maxDeliveries?: number;
  /** Told when a handler throws (the message stays pending and is retried after `claimIdleMs`). */
  onError?: (error: unknown, id: string) => void;
}

/** A running consumer; `stop()` finishes the message in hand and returns. */
export interface StreamConsumer {
  stop(): Promise<void>;
}

type Entry = [id: string, fields: string[]];

/**
 * The durable path: events appended to a Redis Stream and consumed through a consumer
 * group. A message is acknowledged only after its handler succeeds; a consumer that
 * dies mid-message leaves it pending, and another consumer claims it (XAUTOCLAIM) once
 * it has been idle `claimIdleMs`. After `maxDeliveries` it moves to the dead-letter
 * stream. Delivery is at least once: handlers must be idempotent (key on `event.id`).
 */
export class EventStream<E extends TypedEvent> {
  readonly #redis: RedisClient;
  readonly #stream: string;
  readonly #dead: string;
  readonly #maxLen: number;
  readonly #metrics: ReturnType<typeof eventMetrics>;
  readonly #schema: EventSchema<E>;

  constructor(redis: RedisClient, options: EventStreamOptions<E>) {
    this.#schema = options.schema;
    this.#redis = redis;
    this.#stream = options.stream;
    this.#dead = options.deadLetterStream;
    this.#maxLen = options.maxLen ?? 100_000;
    this.#metrics = eventMetrics(options.registry);
  }

  /**
   * Validate and append; resolves with the entry id. The active trace context goes in a
   * `trace` field beside `event`; the consumer handles the entry in a span linked to it.
   */
  async append(event: E): Promise<string> {
    const valid = this.#schema.parse(event);
    const traceContext = currentCarrier();
    const fields = traceContext
      ? ['event', JSON.stringify(valid), 'trace', JSON.stringify(traceContext)]
      : ['event', JSON.stringify(valid)];
    const id = await this.#redis.xadd(this.#stream, 'MAXLEN', '~', this.#maxLen, '*', ...fields);
    this.#metrics?.eventsPublished.inc({ type: valid.type });
    return id!;
  }

  /** Create the consumer group if it does not exist (reading from the stream's start). */
  async ensureGroup(group: string): Promise<void> {
    try {
      await this.#redis.xgroup('CREATE', this.#stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /**
   * Start consuming with `handler`. `connection` must be dedicated to this consumer
   * (XREADGROUP BLOCK holds it), created with the `worker` role.
   */
  async consume(
    connection: RedisClient,
    options: ConsumeOptions,
    handler: (event: E, id: string) => Promise<void>,
  ): Promise<StreamConsumer> {
    const { group, consumer } = options;
    const count = options.count ?? 16;
    const blockMs = options.blockMs ?? 1_000;
    const claimIdleMs = options.claimIdleMs ?? 30_000;
    const maxDeliveries = options.maxDeliveries ?? 5;
    await this.ensureGroup(group);
    let running = true;

    const handle = async ([id, fields]: Entry, deliveries: number) => {
      const raw = fields[fields.indexOf('event') + 1];
      let event: E;
      try {
        event = this.#schema.parse(JSON.parse(raw ?? ''));
      } catch {
        this.#metrics?.eventsInvalid.inc({ channel: this.#stream });
        return this.#deadLetter(group, id, raw ?? '', deliveries, 'invalid');
      }
      if (deliveries > maxDeliveries) return this.#deadLetter(group, id, raw ?? '', deliveries, 'max_deliveries');
      const traceField = fields.indexOf('trace');
      let carrier: unknown;
      try {
        carrier = traceField > 0 && traceField % 2 === 0 ? JSON.parse(fields[traceField + 1] ?? '') : undefined;
      } catch {
        carrier = undefined; // an unreadable trace context costs the link, not the event
      }
      try {
        await consumeLinked(
          `process ${event.type}`,
          carrier,
          { 'messaging.system': 'redis', 'messaging.destination.name': this.#stream, 'messaging.message.id': id },
          () => handler(event, id),
        );
        await this.#redis.xack(this.#stream, group, id);
        this.#metrics?.eventsReceived.inc({ type: event.type });
      } catch (error) {
        options.onError?.(error, id);
      }
    };

    const loop = (async () => {
      let claimCursor = '0-0';
      while (running) {
        try {
          // First, messages other consumers left pending too long (crashed or stuck).
          const [next, claimed] = (await connection.xautoclaim(
            this.#stream,
            group,
            consumer,
            claimIdleMs,
            claimCursor,
            'COUNT',
            count,
          )) as [string, Entry[]];
          claimCursor = next;
          if (claimed.length) {
            const counts = await this.#deliveryCounts(group, claimed);
            for (const entry of claimed) if (running) await handle(entry, counts.get(entry[0]) ?? 1);
          }
          const read = (await connection.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            count,
            'BLOCK',
            blockMs,
            'STREAMS',
            this.#stream,
            '>',
          )) as [string, Entry[]][] | null;
          for (const entry of read?.[0]?.[1] ?? []) if (running) await handle(entry, 1);
        } catch (error) {
          if (!running) break;
          options.onError?.(error, '');
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();

    return {
      stop: async () => {
        running = false;
        await loop;
      },
    };
  }

  async #deliveryCounts(group: string, entries: Entry[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const [id] of entries) {
      const info = (await this.#redis.xpending(this.#stream, group, id, id, 1)) as [string, string, number, number][];
      if (info[0]) counts.set(id, Number(info[0][3]));
    }
    return counts;
  }

  async #deadLetter(group: string, id: string, raw: string, deliveries: number, reason: string): Promise<void> {
    // One transaction, so a crash cannot ack without dead-lettering (the two streams share a slot).
    await this.#redis
      .multi()
      .xadd(
        this.#dead,
        'MAXLEN',
        '~',
        this.#maxLen,
        '*',
        'event',
        raw,
        'sourceId',
        id,
        'deliveries',
        deliveries,
        'reason',
        reason,
      )
      .xack(this.#stream, group, id)
      .exec();
    this.#metrics?.eventsDeadLettered.inc({ stream: this.#stream });
  }
}

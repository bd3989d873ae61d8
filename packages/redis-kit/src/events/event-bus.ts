import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { consumeLinked, currentCarrier } from '../tracing/spans.js';
import { eventMetrics } from './event-metrics.js';
import type { EventSchema, TypedEvent } from './event-schema.js';

/** Options for {@link EventBus}. */
export interface EventBusOptions<E extends TypedEvent> {
  /**
   * One schema per event type (a zod schema fits). Events are checked with it on publish
   * and on receipt; only types listed here can be published or subscribed to.
   */
  schemas: { readonly [T in E['type']]: EventSchema<Extract<E, { type: T }>> };
  /** The channel an event type travels on. Default `events:<type>`. */
  channel?: (type: E['type']) => string;
  /** Where metrics go. Default: none. */
  registry?: Registry;
  /** Told about every dropped message (log it). */
  onInvalid?: (channel: string, reason: string) => void;
  /** Told when a handler throws; the bus keeps going. */
  onHandlerError?: (event: E, error: unknown) => void;
}

/**
 * Typed publish/subscribe for ephemeral signals (product updates for watchers, live
 * dashboard feed). Events are validated against the caller's schemas on publish
 * (a bad event is a bug: it throws) and on receipt (a bad message is counted and dropped,
 * never thrown into the subscriber). Pub/sub delivers at most once, to whoever is
 * listening at that moment: anything that must not be lost goes through {@link EventStream}.
 */
export class EventBus<E extends TypedEvent> {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #metrics: ReturnType<typeof eventMetrics>;
  readonly #options: EventBusOptions<E>;
  readonly #channel: (type: E['type']) => string;
  /** Subscribed channels: the event type each carries and its handlers. */
  readonly #handlers = new Map<string, { type: E['type']; handlers: Set<(event: E) => void | Promise<void>> }>();
  readonly #onMessage = (channel: string, message: string) => {
    const subscribed = this.#handlers.get(channel);
    if (!subscribed) return;
    const { type, handlers } = subscribed;
    let event: E;
    let carrier: unknown;
    try {
      const parsed = JSON.parse(message) as { traceContext?: unknown };
      carrier = parsed.traceContext;
      event = this.#schema(type).parse(parsed);
    } catch (error) {
      this.#metrics?.eventsInvalid.inc({ channel });
      this.#options.onInvalid?.(channel, (error as Error).message);
      return;
    }
    this.#metrics?.eventsReceived.inc({ type });
    for (const handler of handlers) {
      consumeLinked(`receive ${type}`, carrier, { 'messaging.system': 'redis', 'messaging.destination.name': channel }, () =>
        handler(event),
      ).catch((error) => this.#options.onHandlerError?.(event, error));
    }
  };

  /**
   * @param redis command connection (publishes)
   * @param subscriber pub/sub-only connection (may be shared with other subscribers)
   */
  constructor(redis: RedisClient, subscriber: RedisClient, options: EventBusOptions<E>) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#metrics = eventMetrics(options.registry);
    this.#options = options;
    this.#channel = options.channel ?? ((type) => `events:${type}`);
    subscriber.on('message', this.#onMessage);
  }

  /**
   * Validate and publish; resolves with how many subscribers received it. The active trace
   * context rides along as `traceContext` (schemas strip unknown keys, so receivers of an
   * older version still accept the message); each receiver handles it in a span linked to it.
   */
  async publish(event: E): Promise<number> {
    const valid = this.#schema(event.type).parse(event);
    const traceContext = currentCarrier();
    const message = JSON.stringify(traceContext ? { ...valid, traceContext } : valid);
    const receivers = await this.#redis.publish(this.#channel(valid.type), message);
    this.#metrics?.eventsPublished.inc({ type: valid.type });
    return receivers;
  }

  /** Call `handler` for every valid event of `type` published from now on. Returns an unsubscribe function. */
  async subscribe<T extends E['type']>(
    type: T,
    handler: (event: Extract<E, { type: T }>) => void | Promise<void>,
  ): Promise<() => Promise<void>> {
    this.#schema(type);
    const channel = this.#channel(type);
    let subscribed = this.#handlers.get(channel);
    if (!subscribed) {
      subscribed = { type, handlers: new Set() };
      this.#handlers.set(channel, subscribed);
      await this.#subscriber.subscribe(channel);
    }
    const set = subscribed.handlers;
    const wrapped = handler as (event: E) => void | Promise<void>;
    set.add(wrapped);
    return async () => {
      set.delete(wrapped);
      if (set.size === 0) {
        this.#handlers.delete(channel);
        await this.#subscriber.unsubscribe(channel);
      }
    };
  }

  #schema(type: E['type']): EventSchema<E> {
    const schema = (this.#options.schemas as Record<string, EventSchema<E> | undefined>)[type];
    if (!schema) throw new Error(`no schema for event type ${type}`);
    return schema;
  }

  /** Stop listening (the shared subscriber connection stays open). */
  async close(): Promise<void> {
    this.#subscriber.off('message', this.#onMessage);
    const subscribed = [...this.#handlers.keys()];
    this.#handlers.clear();
    if (subscribed.length) await this.#subscriber.unsubscribe(...subscribed);
  }
}

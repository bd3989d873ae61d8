import { channels, type EventOf, type EventType, eventSchemas, StorefrontEvent } from '@storefront/contracts';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { type KitMetrics, kitMetrics } from '../metrics/kit-metrics.js';

/** Options for {@link EventBus}. */
export interface EventBusOptions {
  /** Where metrics go. Default: none. */
  registry?: Registry;
  /** Told about every dropped message (log it). */
  onInvalid?: (channel: string, reason: string) => void;
  /** Told when a handler throws; the bus keeps going. */
  onHandlerError?: (event: StorefrontEvent, error: unknown) => void;
}

type Handler<T extends EventType> = (event: EventOf<T>) => void | Promise<void>;

/**
 * Typed publish/subscribe for ephemeral signals (product updates for watchers, live
 * dashboard feed). Events are validated against the contracts' schemas on publish
 * (a bad event is a bug: it throws) and on receipt (a bad message is counted and dropped,
 * never thrown into the subscriber). Pub/sub delivers at most once, to whoever is
 * listening at that moment: anything that must not be lost goes through {@link EventStream}.
 */
export class EventBus {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #metrics: KitMetrics | undefined;
  readonly #options: EventBusOptions;
  readonly #handlers = new Map<string, Set<(event: StorefrontEvent) => void | Promise<void>>>();
  readonly #onMessage = (channel: string, message: string) => {
    const handlers = this.#handlers.get(channel);
    if (!handlers) return;
    const type = channel.slice(channels.event('').length) as EventType;
    let event: StorefrontEvent;
    try {
      const result = eventSchemas[type].safeParse(JSON.parse(message));
      if (!result.success) throw new Error(result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
      event = result.data as StorefrontEvent;
    } catch (error) {
      this.#metrics?.eventsInvalid.inc({ channel });
      this.#options.onInvalid?.(channel, (error as Error).message);
      return;
    }
    this.#metrics?.eventsReceived.inc({ type });
    for (const handler of handlers) {
      Promise.resolve()
        .then(() => handler(event))
        .catch((error) => this.#options.onHandlerError?.(event, error));
    }
  };

  /**
   * @param redis command connection (publishes)
   * @param subscriber pub/sub-only connection (may be shared with other subscribers)
   */
  constructor(redis: RedisClient, subscriber: RedisClient, options: EventBusOptions = {}) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#metrics = kitMetrics(options.registry);
    this.#options = options;
    subscriber.on('message', this.#onMessage);
  }

  /** Validate and publish; resolves with how many subscribers received it. */
  async publish(event: StorefrontEvent): Promise<number> {
    const valid = StorefrontEvent.parse(event);
    const receivers = await this.#redis.publish(channels.event(valid.type), JSON.stringify(valid));
    this.#metrics?.eventsPublished.inc({ type: valid.type });
    return receivers;
  }

  /** Call `handler` for every valid event of `type` published from now on. Returns an unsubscribe function. */
  async subscribe<T extends EventType>(type: T, handler: Handler<T>): Promise<() => Promise<void>> {
    const channel = channels.event(type);
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      await this.#subscriber.subscribe(channel);
    }
    const wrapped = handler as (event: StorefrontEvent) => void | Promise<void>;
    set.add(wrapped);
    return async () => {
      set.delete(wrapped);
      if (set.size === 0) {
        this.#handlers.delete(channel);
        await this.#subscriber.unsubscribe(channel);
      }
    };
  }

  /** Stop listening (the shared subscriber connection stays open). */
  async close(): Promise<void> {
    this.#subscriber.off('message', this.#onMessage);
    const subscribed = [...this.#handlers.keys()];
    this.#handlers.clear();
    if (subscribed.length) await this.#subscriber.unsubscribe(...subscribed);
  }
}

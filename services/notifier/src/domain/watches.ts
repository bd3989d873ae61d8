import {
  type EventOf,
  jobIds,
  NOTIFICATION_JOB_OPTIONS,
  type NotificationJob,
  newEvent,
  type StorefrontEvent,
  type Watch,
} from '@storefront/contracts';
import type { EventBus, SlidingRanking } from '@storefront/redis-kit';
import type { NotificationSealing } from '@storefront/service-defaults';
import type { Queue } from 'bullmq';
import type { WatchStore } from '../store/watch-store.js';

/**
 * Product watches. Catalog's `product.updated` and `stock.changed` arrive over pub/sub
 * (an ephemeral signal: a notifier that is down misses them, and the docs say so); a
 * price drop or a return to stock enqueues one notification job per watcher, with a job
 * id derived from the event, so several notifier instances hearing the same event
 * enqueue it once.
 */
export class Watches {
  constructor(
    private readonly watches: WatchStore,
    private readonly notifications: Queue<NotificationJob>,
    private readonly sealing: NotificationSealing,
    /** New watchers per product; a customer counts once per product (the watch is the event). */
    private readonly ranking: SlidingRanking,
  ) {}

  /**
   * Add a watch; watching twice is the same as once. The watch is stored first; ranking it is
   * best effort: while Redis cannot answer, the watch still stands and the ranking misses it
   * (`ranking_records_total{outcome="failed"}`), and watching again ranks it then.
   */
  async add(watch: Watch): Promise<void> {
    await this.watches.add(watch);
    await this.ranking
      .record(`watch:${watch.customerId}:${watch.productId}`, Date.now(), { [watch.productId]: 1 })
      .catch(() => undefined);
  }

  /** Start reacting to product events. */
  async listen(events: EventBus<StorefrontEvent>): Promise<void> {
    await events.subscribe('product.updated', (event) => this.#onPrice(event));
    await events.subscribe('stock.changed', (event) => this.#onStock(event));
  }

  async #onPrice(event: EventOf<'product.updated'>): Promise<void> {
    const { productId, priceCents, previousPriceCents } = event.data;
    if (previousPriceCents === null || priceCents >= previousPriceCents) return;
    await this.#notifyWatchers(
      event.id,
      productId,
      'price.dropped',
      `${productId} dropped from ${previousPriceCents} to ${priceCents} cents`,
    );
  }

  async #onStock(event: EventOf<'stock.changed'>): Promise<void> {
    const { productId, stock, previousStock } = event.data;
    if (previousStock > 0 || stock === 0) return;
    await this.#notifyWatchers(event.id, productId, 'back.in.stock', `${productId} is back in stock`);
  }

  async #notifyWatchers(causeEventId: string, productId: string, kind: 'price.dropped' | 'back.in.stock', message: string) {
    const watchers = await this.watches.watchersOf(productId);
    await Promise.all(
      watchers.map((customerId) =>
        this.notifications.add(
          'notify',
          this.sealing.seal(
            newEvent('notification.requested', { customerId, orderId: null, productId, causeEventId, kind, message }),
          ),
          { ...NOTIFICATION_JOB_OPTIONS, jobId: jobIds.notification(causeEventId, customerId) },
        ),
      ),
    );
  }
}

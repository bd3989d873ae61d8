import {
  jobIds,
  NOTIFICATION_JOB_OPTIONS,
  type NotificationJob,
  newEvent,
  type OrderExpiryJob,
  type StorefrontEvent,
} from '@storefront/contracts';
import type { EventBus, ReplicaAcknowledgement, SlidingRanking } from '@storefront/redis-kit';
import type { NotificationSealing } from '@storefront/service-defaults';
import type { Queue } from 'bullmq';
import type { CatalogClient } from '../clients/catalog-client.js';

const MESSAGES = {
  'order.placed': 'Your order is reserved; pay to confirm it.',
  'order.paid': 'Thanks! Your order is paid.',
  'order.cancelled': 'Your order was cancelled.',
  'order.expired': 'Your order expired before payment; its items were released.',
} as const;

const unitsByProduct = (items: readonly { productId: string; quantity: number }[]): Record<string, number> => {
  const units: Record<string, number> = {};
  for (const { productId, quantity } of items) units[productId] = (units[productId] ?? 0) + quantity;
  return units;
};

/** What the outbox relay does with each order event. Every step is idempotent, so a re-drive is safe. */
export const orderEventHandler =
  (deps: {
    notifications: Queue<NotificationJob>;
    /** Seals the notification's message before the job reaches Redis. */
    sealing: NotificationSealing;
    expiries: Queue<OrderExpiryJob>;
    events: EventBus<StorefrontEvent>;
    catalog: Pick<CatalogClient, 'release'>;
    paymentTimeoutMs: number;
    /** Runs the job writes and resolves once a replica holds them (rejects if none did in time: the row stays pending). */
    replicated: ReplicaAcknowledgement;
    /** Units ordered per product, and orders per minute by outcome; each event counts once however often it is relayed. */
    rankings: { bestSelling: SlidingRanking; orders: SlidingRanking };
  }) =>
  async (event: StorefrontEvent): Promise<void> => {
    if (
      event.type !== 'order.placed' &&
      event.type !== 'order.paid' &&
      event.type !== 'order.cancelled' &&
      event.type !== 'order.expired'
    ) {
      return;
    }
    const { orderId, customerId } = event.data;
    const notification = newEvent('notification.requested', {
      customerId,
      orderId,
      productId: null,
      causeEventId: event.id,
      kind: event.type,
      message: MESSAGES[event.type],
    });
    // Independent steps run together: a row costs its slowest step, not their sum. The jobs
    // count only once a replica holds them, so a failover cannot lose them after the row is
    // marked published.
    const at = new Date(event.occurredAt);
    await Promise.all([
      event.type === 'order.cancelled' || event.type === 'order.expired' ? deps.catalog.release(orderId) : undefined,
      deps.rankings.orders.record(event.id, at, { [event.type.slice('order.'.length)]: 1 }),
      event.type === 'order.placed'
        ? deps.rankings.bestSelling.record(event.id, at, unitsByProduct(event.data.items))
        : undefined,
      deps.replicated(() =>
        Promise.all([
          event.type === 'order.placed'
            ? deps.expiries.add(
                'expire',
                { orderId },
                { jobId: jobIds.orderExpiry(orderId), delay: deps.paymentTimeoutMs, removeOnComplete: true },
              )
            : undefined,
          deps.notifications.add('notify', deps.sealing.seal(notification), {
            ...NOTIFICATION_JOB_OPTIONS,
            jobId: jobIds.notification(event.id, customerId),
          }),
        ]),
      ),
    ]);
    await deps.events.publish(event);
  };

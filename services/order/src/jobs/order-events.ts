import {
  jobIds,
  NOTIFICATION_JOB_OPTIONS,
  type NotificationJob,
  newEvent,
  type OrderExpiryJob,
  type StorefrontEvent,
} from '@storefront/contracts';
import type { EventBus } from '@storefront/redis-kit';
import type { Queue } from 'bullmq';
import type { CatalogClient } from '../clients/catalog-client.js';

const MESSAGES = {
  'order.placed': 'Your order is reserved; pay to confirm it.',
  'order.paid': 'Thanks! Your order is paid.',
  'order.cancelled': 'Your order was cancelled.',
  'order.expired': 'Your order expired before payment; its items were released.',
} as const;

/** What the outbox relay does with each order event. Every step is idempotent, so a re-drive is safe. */
export const orderEventHandler =
  (deps: {
    notifications: Queue<NotificationJob>;
    expiries: Queue<OrderExpiryJob>;
    events: EventBus<StorefrontEvent>;
    catalog: Pick<CatalogClient, 'release'>;
    paymentTimeoutMs: number;
    /** Resolves once a replica holds the jobs added (rejects if none did in time: the row stays pending). */
    replicated: () => Promise<void>;
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
    if (event.type === 'order.placed') {
      await deps.expiries.add(
        'expire',
        { orderId },
        { jobId: jobIds.orderExpiry(orderId), delay: deps.paymentTimeoutMs, removeOnComplete: true },
      );
    }
    if (event.type === 'order.cancelled' || event.type === 'order.expired') {
      await deps.catalog.release(orderId);
    }
    const notification = newEvent('notification.requested', {
      customerId,
      orderId,
      productId: null,
      causeEventId: event.id,
      kind: event.type,
      message: MESSAGES[event.type],
    });
    await deps.notifications.add('notify', notification, {
      ...NOTIFICATION_JOB_OPTIONS,
      jobId: jobIds.notification(event.id, customerId),
    });
    // Before the relay marks the row published: a failover must not be able to lose these jobs.
    await deps.replicated();
    await deps.events.publish(event);
  };

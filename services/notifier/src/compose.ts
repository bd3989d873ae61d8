import { keys, type NotificationJob, queues } from '@storefront/contracts';
import { SlidingRanking } from '@storefront/redis-kit';
import { NotificationSealing, type ServiceHost } from '@storefront/service-defaults';
import type { NotifierConfig } from './config.js';
import { Delivery } from './domain/delivery.js';
import { Watches } from './domain/watches.js';
import { webhookSender } from './domain/webhook-sender.js';
import { notifierRoutes } from './http/notifications.js';
import { startNotificationWorker } from './jobs/notification-worker.js';
import { migrations } from './store/migrations.js';
import { NotificationStore } from './store/notification-store.js';
import { WatchStore } from './store/watch-store.js';

/**
 * The notifier's wiring: the `notifications` worker delivering to the webhook (or to its
 * own table), dead letters over BullMQ's failed set, product watches fed by pub/sub.
 * main.ts, the component tests and every tool compose it here.
 */
export const compose = async (host: ServiceHost<NotifierConfig>) => {
  const { config } = host;
  // Configuration first: a missing key fails the start before any connection is made.
  const guards = host.auth();
  const sealing = new NotificationSealing(host.fieldCipher());
  const db = await host.database(config.DATABASE_URL, migrations);
  const queue = host.queue<NotificationJob>(queues.notifications);
  const sender = config.NOTIFY_WEBHOOK_URL
    ? webhookSender(config.NOTIFY_WEBHOOK_URL, host.metrics.registry, config.NOTIFY_WEBHOOK_TIMEOUT)
    : undefined;
  const delivery = new Delivery(new NotificationStore(db), sender);
  const worker = startNotificationWorker(host, delivery, sealing);
  const watchRanking = new SlidingRanking(await host.redis(), {
    name: 'most-watched',
    key: keys.notifier.mostWatchedRanking,
    registry: host.metrics.registry,
  });
  const watches = new Watches(new WatchStore(db), queue, sealing, watchRanking);
  await watches.listen(await host.events());
  const limits = await host.customerLimits('watches', config.WATCH_RATE_LIMIT_PER_MINUTE);
  host.joinRegistry();
  const app = host.httpApp((app) => {
    app.use(notifierRoutes({ delivery, watches, queue, sealing, guards, limits }));
  });
  return { app, queue, worker, db };
};

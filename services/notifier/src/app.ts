import type { NotificationJob } from '@storefront/contracts';
import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Delivery } from './domain/delivery.js';
import type { Watches } from './domain/watches.js';
import { notifierRoutes } from './routes/notifications.js';

/** Everything the notifier app needs, built by main.ts (or by a test). */
export interface NotifierDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  delivery: Delivery;
  watches: Watches;
  queue: Queue<NotificationJob>;
  bodyLimit?: string;
}

/** The notifier HTTP app: no listen, no globals. */
export const createApp = ({ delivery, watches, queue, ...deps }: NotifierDeps): Express =>
  createServiceApp({
    ...deps,
    routes: (app) => {
      app.use(notifierRoutes(delivery, watches, queue));
    },
  });

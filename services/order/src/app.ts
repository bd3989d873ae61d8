import type { IdempotencyStore, RateLimiter } from '@storefront/redis-kit';
import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { OrderService } from './domain/order-service.js';
import { orderRoutes } from './routes/orders.js';

/** Everything the order app needs, built by main.ts (or by a test). */
export interface OrderDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  orders: OrderService;
  idempotency: IdempotencyStore;
  limiter: RateLimiter;
  bodyLimit?: string;
}

/** The order HTTP app: no listen, no globals. */
export const createApp = ({ orders, idempotency, limiter, ...deps }: OrderDeps): Express =>
  createServiceApp({
    ...deps,
    routes: (app) => {
      app.use(orderRoutes(orders, idempotency, limiter));
    },
  });

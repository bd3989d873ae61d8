import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Express } from 'express';
import type { Logger } from 'pino';

/** Everything the order app needs, built by main.ts (or by a test). */
export interface OrderDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  bodyLimit?: string;
}

/** The order HTTP app: no listen, no globals. */
export const createApp = (deps: OrderDeps): Express =>
  createServiceApp({
    ...deps,
    routes: () => {},
  });

import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Express } from 'express';
import type { Logger } from 'pino';

/** Everything the notifier app needs, built by main.ts (or by a test). */
export interface NotifierDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  bodyLimit?: string;
}

/** The notifier HTTP app: no listen, no globals. */
export const createApp = (deps: NotifierDeps): Express =>
  createServiceApp({
    ...deps,
    routes: () => {},
  });

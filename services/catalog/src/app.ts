import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Express } from 'express';
import type { Logger } from 'pino';

/** Everything the catalog app needs, built by main.ts (or by a test). */
export interface CatalogDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  bodyLimit?: string;
}

/** The catalog HTTP app: no listen, no globals. */
export const createApp = (deps: CatalogDeps): Express =>
  createServiceApp({
    ...deps,
    routes: () => {},
  });

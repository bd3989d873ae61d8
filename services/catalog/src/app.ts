import { createServiceApp, type Health, requireBearer, type ServiceMetrics } from '@storefront/service-kit';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { CatalogService } from './domain/catalog-service.js';
import type { StockService } from './domain/stock-service.js';
import { productRoutes } from './routes/products.js';
import { reservationRoutes } from './routes/reservations.js';

/** Everything the catalog app needs, built by main.ts (or by a test). */
export interface CatalogDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  catalog: CatalogService;
  stock: StockService;
  adminToken: string;
  bodyLimit?: string;
}

/** The catalog HTTP app: no listen, no globals. */
export const createApp = ({ catalog, stock, adminToken, ...deps }: CatalogDeps): Express =>
  createServiceApp({
    ...deps,
    routes: (app) => {
      app.use(productRoutes(catalog, stock, requireBearer(adminToken)));
      app.use(reservationRoutes(stock));
    },
  });

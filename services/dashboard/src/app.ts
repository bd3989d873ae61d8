import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { createServiceApp, type Health, type ServiceMetrics } from '@storefront/service-kit';
import type { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { DashboardState } from './dashboard-state.js';
import { apiRoutes, type DemoControl } from './routes/api.js';

/** Everything the dashboard app needs. */
export interface DashboardDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  state: DashboardState;
  queues: Queue[];
  control?: DemoControl;
  /** How often the page gets a new snapshot. Default 1 000 ms. */
  refreshMs?: number;
}

const publicDir = fileURLToPath(new URL('../public', import.meta.url));

/** The dashboard HTTP app: the page, its API, Bull Board at /queues. */
export const createApp = ({ state, queues, control, refreshMs = 1000, ...deps }: DashboardDeps): Express =>
  createServiceApp({
    ...deps,
    // Bull Board's UI bootstraps with an inline script; the dashboard page itself needs none.
    securityHeaders: { contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } } },
    routes: (app) => {
      app.use(express.static(publicDir));
      app.use(apiRoutes(state, control, refreshMs));
      const board = new ExpressAdapter();
      board.setBasePath('/queues');
      createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: board });
      app.use('/queues', board.getRouter());
    },
  });

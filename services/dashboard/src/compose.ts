import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type NotificationJob, type OrderExpiryJob, queues, SERVICE_NAMES } from '@storefront/contracts';
import type { ServiceHost } from '@storefront/service-defaults';
import express from 'express';
import type { DashboardConfig } from './config.js';
import { DashboardState } from './dashboard-state.js';
import { apiRoutes, type DemoControl } from './http/api.js';

const publicDir = fileURLToPath(new URL('../public', import.meta.url));

/** Options for {@link compose}. */
export interface DashboardOptions {
  /** Process control; only `pnpm demo`, which owns the processes, passes one. */
  control?: DemoControl;
}

/**
 * The dashboard's wiring: a discovery per service, the two queues, the event feed, a
 * refresh loop, and the app (page, API, Bull Board at /queues, Prometheus service
 * discovery). main.ts composes it here, and so does `pnpm demo` (with process control).
 */
export const compose = async (host: ServiceHost<DashboardConfig>, { control }: DashboardOptions = {}) => {
  const refreshMs = host.config.DASHBOARD_REFRESH_MS;
  const discoveries = Object.fromEntries(
    await Promise.all(SERVICE_NAMES.map(async (service) => [service, await host.discovery(service)] as const)),
  );
  const notifications = host.queue<NotificationJob>(queues.notifications);
  const expiries = host.queue<OrderExpiryJob>(queues.orderExpiry);
  const state = new DashboardState(discoveries, { notifications, expiries });
  await state.listen(await host.events());
  await state.refresh();
  const timer = setInterval(() => void state.refresh().catch(() => {}), refreshMs);
  host.shutdown.add('workers', 'stop dashboard refresh', () => clearInterval(timer));
  host.health.addCheck('snapshot', () => state.refresh());
  const app = host.httpApp(
    (app) => {
      app.use(express.static(publicDir));
      app.use(apiRoutes(state, control, refreshMs));
      const board = new ExpressAdapter();
      board.setBasePath('/queues');
      createBullBoard({
        queues: [notifications, expiries].map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
        serverAdapter: board,
      });
      app.use('/queues', board.getRouter());
    },
    // Bull Board's UI bootstraps with an inline script; the dashboard page itself needs none.
    { securityHeaders: { contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } } } },
  );
  return { app, state };
};

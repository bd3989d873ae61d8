import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type NotificationJob, type OrderExpiryJob, queues, SERVICE_NAMES } from '@storefront/contracts';
import { AclAudit, isRedisUnavailable } from '@storefront/redis-kit';
import type { ServiceHost } from '@storefront/service-defaults';
import { principalOf } from '@storefront/service-kit';
import express, { type RequestHandler } from 'express';
import type { DashboardConfig } from './config.js';
import { DashboardState } from './dashboard-state.js';
import { apiRoutes, type DemoControl } from './http/api.js';
import { refuseCrossSite, sessionFromCookie, sessionRoutes } from './http/session.js';
import { traceApiRoutes, traceIngestRoutes } from './http/traces.js';
import { TraceStore } from './traces/trace-store.js';

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
  // Unknown after three missed discovery reads (Redis not answering), not after one slow one.
  const state = new DashboardState(
    discoveries,
    { notifications, expiries },
    3 * host.config.DISCOVERY_REFRESH_MS + 1_000,
    await host.redis(),
    new AclAudit(await host.redis(), { registry: host.metrics.registry }),
  );
  await state.listen(await host.events());
  await state.refresh();
  const timer = setInterval(() => void state.refresh().catch(() => {}), refreshMs);
  host.shutdown.add('workers', 'stop dashboard refresh', () => clearInterval(timer));
  host.health.addCheck('snapshot', () => state.refresh());
  const guards = host.auth();
  const traces = new TraceStore();
  const boards = { readOnly: bullBoard([notifications, expiries], true), writable: bullBoard([notifications, expiries], false) };
  const app = host.httpApp(
    (app) => {
      app.use(express.static(publicDir));
      // Trace exporters authenticate with the ingest token, not a session: mounted before the session checks.
      app.use(traceIngestRoutes(traces, host.config.TRACE_INGEST_TOKEN));
      app.use(sessionFromCookie, refuseCrossSite);
      app.use(sessionRoutes(guards));
      app.use(traceApiRoutes(traces, guards));
      app.use(apiRoutes(state, control, refreshMs, guards));
      // Signed-in users see the queues; only the admin role gets a board that can change them
      // (the read-only one refuses every write with 405 on the server, not just in its UI).
      app.use('/queues', guards.customer, (req, res, next) =>
        (principalOf(res).admin ? boards.writable : boards.readOnly)(req, res, next),
      );
    },
    // Bull Board's UI bootstraps with an inline script; the dashboard page itself needs none.
    {
      securityHeaders: { contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } } },
      bodyLimits: { '/v1/traces': '8mb' },
    },
  );
  return { app, state, traces };
};

/**
 * A Bull Board at /queues over `queues`. Its own error handler would send Redis's error
 * text (and, in development, the stack) to the browser: this one says only what kind of
 * failure it was — 503 while Redis cannot answer, 400 for what Redis refused, else 500.
 */
type BoardAnswer = ReturnType<Parameters<ExpressAdapter['setErrorHandler']>[0]>;

const bullBoard = (queues: ConstructorParameters<typeof BullMQAdapter>[0][], readOnlyMode: boolean): RequestHandler => {
  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode })), serverAdapter: board });
  // Bull Board's status type stops at 500; 503 is what a Redis outage is.
  board.setErrorHandler(
    (error: Error) =>
      (isRedisUnavailable(error)
        ? { status: 503, body: { error: 'Queue data is unavailable; try again shortly' } }
        : error.name === 'ReplyError'
          ? { status: 400, body: { error: 'Redis refused this request' } }
          : { status: 500, body: { error: 'Internal server error' } }) as BoardAnswer,
  );
  return board.getRouter();
};

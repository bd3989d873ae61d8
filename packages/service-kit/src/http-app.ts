import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { UnavailableClassifier } from './errors.js';
import { type Health, healthRouter } from './health.js';
import { redactHeaders } from './logger.js';
import { httpMetricsMiddleware, type ServiceMetrics } from './metrics.js';
import { notFoundHandler, problemHandler } from './problem.js';
import { currentTraceId, traceResponse } from './tracing.js';

/** What {@link createServiceApp} needs. */
export interface ServiceAppOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  /** Max JSON body; bigger bodies get 413 problem+json. Default `100kb`. */
  bodyLimit?: string;
  /** A larger JSON limit for some paths (the dashboard's trace receiver takes export batches). */
  bodyLimits?: Record<string, string>;
  /** helmet options, e.g. a Content-Security-Policy that a UI needs. Default: helmet's defaults. */
  securityHeaders?: HelmetOptions;
  /** Mount the service's routes. Runs after the common middleware, before the 404 and error handlers. */
  routes: (app: Express) => void;
  /** Recognises errors of a dependency that cannot answer now (they become 503 + `Retry-After`). */
  unavailable?: UnavailableClassifier;
  /** Express's `trust proxy` (a hop count, `loopback`, a subnet list): whose `X-Forwarded-For` sets `req.ip`. Default: none. */
  trustProxy?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The Express 5 app every service starts from: helmet, request ids (an incoming
 * `x-request-id` is reused when it is sane), pino-http, the `traceresponse` header, HTTP metrics, JSON body with a
 * size limit, `/health/*`, `/metrics`, the service's routes, then 404 and problem+json.
 */
export const createServiceApp = ({
  logger,
  metrics,
  health,
  bodyLimit = '100kb',
  bodyLimits = {},
  securityHeaders,
  routes,
  unavailable,
  trustProxy,
}: ServiceAppOptions): Express => {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy === undefined ? false : /^\d+$/.test(trustProxy) ? Number(trustProxy) : trustProxy);
  app.set('query parser', 'simple');
  app.use(helmet(securityHeaders));
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      // Headers by name pattern, not by a fixed list: a credential in a header nobody listed is still redacted.
      serializers: {
        req: (req: { headers?: Record<string, unknown> }) => ({ ...req, headers: redactHeaders(req.headers) }),
        res: (res: { headers?: Record<string, unknown> }) => ({ ...res, headers: redactHeaders(res.headers) }),
      },
      // The trace of the request on its log line, so a log and a trace find each other.
      customProps: () => {
        const traceId = currentTraceId();
        return traceId ? { traceId } : {};
      },
      autoLogging: { ignore: (req) => req.url?.startsWith('/health') === true || req.url === '/metrics' },
      // A 503 says "a dependency is away, retry": an expected state, logged as a warning without
      // a stack (pino-http would attach one of its own making); errors and stacks are for the 500s.
      customLogLevel: (_req, res, err) =>
        res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      customErrorObject: (_req, res, _error, fields) => (res.statusCode === 503 ? { ...fields, err: undefined } : fields),
    }),
  );
  app.use(traceResponse);
  app.use(httpMetricsMiddleware(metrics));
  // A path with its own limit is parsed first; the general parser then sees the body read and skips it.
  for (const [path, limit] of Object.entries(bodyLimits)) app.use(path, express.json({ limit }));
  app.use(express.json({ limit: bodyLimit }));
  app.use(healthRouter(health));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  routes(app);
  app.use(notFoundHandler);
  app.use(problemHandler(logger, unavailable));
  return app;
};

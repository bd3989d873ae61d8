import express, { type Express, type Request, type RequestHandler } from 'express';
import type { HelmetOptions } from 'helmet';
import type { Logger } from 'pino';
import type { UnavailableClassifier } from './errors.js';
import { type Health, healthRouter } from './health.js';
import { httpMetrics, type ServiceMetrics } from './metrics.js';
import { notFoundHandler, problemHandler } from './problem.js';
import { exposeRequestId, requestId, requestLog } from './request-log.js';
import { observeResponses } from './response-over.js';
import { securityHeaders } from './security-headers.js';
import { endServerSpan, serverSpan } from './server-span.js';

/** What {@link createServiceApp} needs. */
export interface ServiceAppOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  /** Max JSON body; bigger bodies get 413 problem+json. Default `100kb`. */
  bodyLimit?: string;
  /** A larger JSON limit for some paths (the dashboard's trace receiver takes export batches). */
  bodyLimits?: Record<string, string>;
  /** helmet options for a service that serves documents, e.g. a Content-Security-Policy a UI needs. Default: `API_SECURITY_HEADERS` (a JSON API's). */
  securityHeaders?: HelmetOptions;
  /** Mount the service's routes. Runs after the common middleware, before the 404 and error handlers. */
  routes: (app: Express) => void;
  /** Recognises errors of a dependency that cannot answer now (they become 503 + `Retry-After`). */
  unavailable?: UnavailableClassifier;
  /** Express's `trust proxy` (a hop count, `loopback`, a subnet list): whose `X-Forwarded-For` sets `req.ip`. Default: none. */
  trustProxy?: string;
}

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Probes and scrapes: no log line, no trace. */
const unobserved = (req: Request): boolean => req.originalUrl.startsWith('/health') || req.originalUrl === '/metrics';

/** Middlewares run one after another as one: the next starts when one calls `next()`; an error goes to Express. */
const inSequence =
  (...handlers: RequestHandler[]): RequestHandler =>
  (req, res, next) => {
    let i = 0;
    const step = (error?: unknown): void => {
      const handler = handlers[i++];
      if (error) next(error);
      else if (!handler) next();
      else void handler(req, res, step);
    };
    step();
  };

/**
 * The Express 5 app every service starts from: helmet's headers (worked out once), request
 * ids (an incoming `x-request-id` is reused when it is sane) and one log line per request,
 * the request's server span and its `traceresponse` header, HTTP metrics, JSON body with a
 * size limit, `/health/*`, `/metrics`, the service's routes, then 404 and problem+json.
 */
export const createServiceApp = ({
  logger,
  metrics,
  health,
  bodyLimit = '100kb',
  bodyLimits = {},
  securityHeaders: securityHeaderOptions,
  routes,
  unavailable,
  trustProxy,
}: ServiceAppOptions): Express => {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy === undefined ? false : /^\d+$/.test(trustProxy) ? Number(trustProxy) : trustProxy);
  app.set('query parser', 'simple');
  exposeRequestId(app);
  // GET, HEAD and OPTIONS carry no body here: not even the parser's checks for them. A path
  // with a limit of its own (and what is under it) gets its own parser.
  const json = express.json({ limit: bodyLimit });
  const parsers = Object.entries(bodyLimits).map(([path, limit]) => ({ path, parse: express.json({ limit }) }));
  const parseBody: RequestHandler = (req, res, next) => {
    if (BODYLESS.has(req.method)) return next();
    const own = parsers.find(({ path }) => req.path === path || req.path.startsWith(`${path}/`));
    return (own?.parse ?? json)(req, res, next);
  };
  // The per-request steps every request takes, as one router layer: each Express layer costs
  // a path match and a dispatch, which the profile showed as the router's largest share.
  app.use(
    inSequence(
      securityHeaders(securityHeaderOptions),
      serverSpan(unobserved),
      requestId,
      observeResponses(requestLog({ logger, ignore: unobserved }), httpMetrics(metrics), endServerSpan),
      parseBody,
    ),
  );
  app.use('/health', healthRouter(health));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  routes(app);
  app.use(notFoundHandler);
  app.use(problemHandler(logger, unavailable));
  return app;
};

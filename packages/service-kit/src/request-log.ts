import { randomUUID } from 'node:crypto';
import type { Express, Request, RequestHandler } from 'express';
import type { Level, Logger } from 'pino';
import { redactHeaders } from './logger.js';
import { routeTemplate } from './metrics.js';
import { type ResponseObserver, requestState } from './response-over.js';
import { currentTraceId } from './tracing.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const REQUEST_ID = Symbol('storefront.requestId');
const TRACE_ID = Symbol('storefront.traceId');

/** The request's id ({@link requestId}), `undefined` before it ran. `req.id` reads the same. */
export const requestIdOf = (req: Request): string | undefined =>
  (req.res && requestState(req.res)[REQUEST_ID]) as string | undefined;

/**
 * Request ids: an incoming `x-request-id` is reused when it is sane (else a UUID), set on
 * the response and readable as `req.id` (see {@link exposeRequestId}). The request's trace
 * id (with tracing) is noted for its log line: the trace is the request's while its
 * handlers run; when the response is over the context may be gone.
 * Both are kept in the request's {@link requestState}, not as properties of `req` or `res`.
 */
export const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  const state = requestState(res);
  state[REQUEST_ID] = id;
  res.setHeader('x-request-id', id);
  state[TRACE_ID] = currentTraceId();
  next();
};

/** `req.id` for every request of `app`: one getter on the app's request prototype, nothing per request. */
export const exposeRequestId = (app: Express): void => {
  Object.defineProperty(app.request, 'id', {
    get(this: Request) {
      return requestIdOf(this);
    },
    configurable: true,
  });
};

/** Options for {@link requestLog}. */
export interface RequestLogOptions {
  logger: Logger;
  /** Requests not logged (health checks, scrapes). Default: none. */
  ignore?: (req: Request) => boolean;
}

/** A 503 says "a dependency is away, retry": expected, a warning. Errors are for the other 5xx. */
const levelFor = (status: number): Level =>
  status === 503 || (status >= 400 && status < 500) ? 'warn' : status >= 500 ? 'error' : 'info';

/**
 * One structured log line per request, once its response is over (run it through
 * `observeResponses`, after {@link requestId}): at info (warn for 4xx and 503, error for other
 * 5xx; 499 when the client went away first): `reqId`, `req` (method, url, remote address;
 * for a 4xx or 5xx its headers too, every credential-bearing one redacted), `res` (status),
 * `route` (the template, bounded), `responseTime` in ms and, with tracing, the request's
 * `traceId`. Errors with their stacks are logged by the error handler, where the error is.
 *
 * pino-http did this before; the profile of the constant-JSON benchmark showed it building
 * two child loggers and serializing the whole request (every header, redacted) per request,
 * at a level where the line was then dropped — 18 % of the process's CPU
 * (docs/benchmarks.md, "The HTTP stack"). This does the work only for a line that is
 * written, and writes only the fields a reader uses; credentials never reach it (no headers).
 */
export const requestLog = ({ logger, ignore }: RequestLogOptions): ResponseObserver => {
  // The line's fields are fixed and hold no credential (headers are redacted by name above), so
  // it skips the logger's path redaction, which the profile showed costing more than the line.
  const lines = logger.child({}, { redact: [] });
  return (req, res, elapsedMs) => {
    const status = res.writableFinished ? res.statusCode : 499;
    const level = levelFor(status);
    if (!lines.isLevelEnabled(level) || ignore?.(req)) return;
    const traceId = requestState(res)[TRACE_ID] as string | undefined;
    lines[level](
      {
        reqId: requestIdOf(req),
        req: {
          method: req.method,
          url: req.originalUrl,
          remoteAddress: req.socket.remoteAddress,
          // What a failure needs to be understood; credential-bearing headers redacted by name.
          ...(status >= 400 ? { headers: redactHeaders(req.headers) } : {}),
        },
        res: { statusCode: status },
        route: routeTemplate(req),
        responseTime: Math.round(elapsedMs),
        ...(traceId ? { traceId } : {}),
      },
      status === 499 ? 'request aborted' : 'request completed',
    );
  };
};

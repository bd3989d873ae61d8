import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Level, Logger } from 'pino';
import { redactHeaders } from './logger.js';
import { routeTemplate } from './metrics.js';
import type { ResponseObserver } from './response-over.js';
import { currentTraceId } from './tracing.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const TRACE_ID = Symbol('storefront.traceId');
type Traced = Response & { [TRACE_ID]?: string };

/**
 * Request ids: an incoming `x-request-id` is reused when it is sane (else a UUID), set on
 * the response and on `req.id`. The request's trace id (with tracing) is noted for its log
 * line: the trace is the request's while its handlers run; when the response is over the
 * context may be gone.
 */
export const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  (req as { id?: string }).id = id;
  res.setHeader('x-request-id', id);
  (res as Traced)[TRACE_ID] = currentTraceId();
  next();
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
    const traceId = (res as Traced)[TRACE_ID];
    lines[level](
      {
        reqId: (req as { id?: string }).id,
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

import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Level, Logger } from 'pino';
import { redactHeaders } from './logger.js';
import { routeTemplate } from './metrics.js';
import { afterResponse } from './response-over.js';
import { currentTraceId } from './tracing.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

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
 * Request ids and one structured log line per request. An incoming `x-request-id` is reused
 * when it is sane (else a UUID), set on the response and on `req.id`. When the response is
 * finished (or the client went away) one line is written at info (warn for 4xx and 503,
 * error for other 5xx): `reqId`, `req` (method, url, remote address; for a 4xx or 5xx its
 * headers too, every credential-bearing one redacted), `res` (status),
 * `route` (the template, bounded), `responseTime` in ms and, with tracing, the request's
 * `traceId`. Errors with their stacks are logged by the error handler, where the error is.
 *
 * pino-http did this before; the profile of the constant-JSON benchmark showed it building
 * two child loggers and serializing the whole request (every header, redacted) per request,
 * at a level where the line was then dropped — 18 % of the process's CPU
 * (docs/benchmarks.md, "The HTTP stack"). This does the work only for a line that is
 * written, and writes only the fields a reader uses; credentials never reach it (no headers).
 */
export const requestLog = ({ logger, ignore }: RequestLogOptions): RequestHandler => {
  // The line's fields are fixed and hold no credential (headers are redacted by name above), so
  // it skips the logger's path redaction, which the profile showed costing more than the line.
  const lines = logger.child({}, { redact: [] });
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    (req as { id?: string }).id = id;
    res.setHeader('x-request-id', id);
    if (ignore?.(req)) return next();
    const started = performance.now();
    // The trace is the request's while its handlers run; at 'finish' the context may be gone.
    const traceId = currentTraceId();
    afterResponse(res, () => {
      const status = res.writableFinished ? res.statusCode : 499;
      const level = levelFor(status);
      if (!lines.isLevelEnabled(level)) return;
      lines[level](
        {
          reqId: id,
          req: {
            method: req.method,
            url: req.originalUrl,
            remoteAddress: req.socket.remoteAddress,
            // What a failure needs to be understood; credential-bearing headers redacted by name.
            ...(status >= 400 ? { headers: redactHeaders(req.headers) } : {}),
          },
          res: { statusCode: status },
          route: routeTemplate(req),
          responseTime: Math.round(performance.now() - started),
          ...(traceId ? { traceId } : {}),
        },
        status === 499 ? 'request aborted' : 'request completed',
      );
    });
    next();
  };
};

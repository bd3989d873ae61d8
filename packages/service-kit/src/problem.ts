import type { Problem } from '@storefront/contracts';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { type AppError, NotFoundError, toAppError, type UnavailableClassifier, ValidationError } from './errors.js';
import { requestIdOf } from './request-log.js';
import { currentTraceId } from './tracing.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Build the RFC 9457 body for an {@link AppError}. 5xx bodies never carry internal details. */
export const toProblem = (error: AppError, instance?: string): Problem => ({
  type: `https://storefront.example/problems/${error.code}`,
  title: TITLES[error.status] ?? 'Error',
  status: error.status,
  detail: error.status >= 500 && error.code === 'internal' ? 'Internal server error' : error.message,
  code: error.code,
  ...(instance ? { instance } : {}),
  ...(error instanceof ValidationError ? { errors: error.issues } : {}),
  ...error.extensions,
});

/** 404 for any route nothing else answered. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`Route ${req.method} ${req.path}`));
};

/**
 * The one error middleware: maps anything thrown to problem+json (`unavailable` names
 * errors of a dependency the app knows, e.g. Redis, as 503), sets `Retry-After` where the
 * error carries one, adds the request's `traceId` when tracing is on, and logs 5xx at error level with the cause (a 503, expected while a
 * dependency is away, as a warning naming it, without a stack).
 */
export const problemHandler =
  (logger: Logger, unavailable?: UnavailableClassifier): ErrorRequestHandler =>
  (error, req, res, _next) => {
    const appError = toAppError(error, unavailable);
    const reqId = requestIdOf(req);
    const log = reqId ? logger.child({ reqId }) : logger;
    if (appError.status === 503) {
      // Expected while a dependency is away: what and why, no stack.
      const cause = appError.cause instanceof Error ? appError.cause.message : undefined;
      log.warn({ code: appError.code, ...appError.extensions, ...(cause ? { cause } : {}) }, appError.message);
    } else if (appError.status >= 500) log.error({ err: appError.cause ?? appError }, appError.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (appError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appError.retryAfterSeconds));
    if (appError.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    // The trace id lets a user (or support) look this error up in the trace viewer.
    const traceId = currentTraceId();
    res
      .status(appError.status)
      .type('application/problem+json')
      .send(JSON.stringify({ ...toProblem(appError, req.originalUrl), ...(traceId ? { traceId } : {}) }));
  };

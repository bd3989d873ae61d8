import type { ErrorCode, FieldIssue } from '@storefront/contracts';
import { z } from 'zod';
import { isDatabaseUnavailable } from './database.js';

/** Options every {@link AppError} accepts. */
export interface AppErrorOptions {
  /** The underlying error, kept for logs (never sent to clients). */
  cause?: unknown;
  /** Extra problem+json members, e.g. `{ productId }` for a 409. */
  extensions?: Record<string, unknown>;
  /** Seconds for a `Retry-After` header (429, 503). */
  retryAfterSeconds?: number;
}

/**
 * The one error type route handlers and domain code throw on purpose. The error
 * middleware turns it into an RFC 9457 problem+json response with `status` and `code`.
 */
export class AppError extends Error {
  readonly extensions: Record<string, unknown>;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.extensions = options.extensions ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** 400: the request broke a rule; `issues` names each field and the rule it broke. */
export class ValidationError extends AppError {
  constructor(
    readonly issues: FieldIssue[],
    message = `Invalid request: ${issues.map((i) => `${i.path || '(root)'} ${i.message}`).join('; ')}`,
  ) {
    super(400, 'validation_failed', message);
  }
}

/** 404. */
export class NotFoundError extends AppError {
  constructor(what: string, options?: AppErrorOptions) {
    super(404, 'not_found', `${what} was not found`, options);
  }
}

/** 409, with a code saying which conflict (`conflict`, `insufficient_stock`, `request_in_flight`). */
export class ConflictError extends AppError {
  constructor(message: string, code: ErrorCode = 'conflict', options?: AppErrorOptions) {
    super(409, code, message, options);
  }
}

/** 503 with `Retry-After`: a dependency (Redis, Postgres, another service) cannot answer now. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, options: AppErrorOptions = {}) {
    super(503, 'dependency_unavailable', `${dependency} is unavailable`, {
      retryAfterSeconds: 1,
      ...options,
      extensions: { dependency, ...options.extensions },
    });
  }
}

/** 401 for a missing or wrong bearer token (answered with `WWW-Authenticate: Bearer`). */
export class UnauthorizedError extends AppError {
  constructor(message = 'A valid bearer token is required', options?: AppErrorOptions) {
    super(401, 'unauthorized', message, options);
  }
}

/** 403: the caller is known but may not do this (no admin role; a service not allowed on the route). */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

/** Turn zod issues into field issues with dotted paths prefixed by where they came from. */
export const toFieldIssues = (error: z.ZodError, prefix?: string): FieldIssue[] =>
  error.issues.map((issue) => {
    const parts = [prefix, ...issue.path.map(String)].filter((p): p is string => p !== undefined && p !== '');
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = unknownKeys.length === 1 ? [...parts, unknownKeys[0]].join('.') : parts.join('.');
    return { path, message: issue.message };
  });

interface HttpLikeError {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  code?: unknown;
}

/** Names the dependency an error says is unavailable (`redis`, …), or `undefined`. */
export type UnavailableClassifier = (error: unknown) => string | undefined;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Map anything thrown into an {@link AppError}: body-parser failures, zod errors,
 * opossum's open-breaker and timeout errors, and errors that say a dependency cannot
 * answer now (the database, a network peer, or whatever `unavailable` recognises) —
 * those are 503 with `Retry-After`, never 500. Everything else becomes a 500.
 */
export const toAppError = (error: unknown, unavailable?: UnavailableClassifier): AppError => {
  if (error instanceof AppError) return error;
  const dependency =
    unavailable?.(error) ??
    (isDatabaseUnavailable(error)
      ? 'database'
      : NETWORK_CODES.has(String((error as { code?: unknown } | null)?.code))
        ? 'upstream'
        : undefined);
  if (dependency) return new DependencyUnavailableError(dependency, { cause: error });
  if (error instanceof z.ZodError) return new ValidationError(toFieldIssues(error));
  const e = (typeof error === 'object' && error !== null ? error : {}) as HttpLikeError;
  if (e.type === 'entity.parse.failed') {
    return new AppError(400, 'malformed_json', 'The request body is not valid JSON', { cause: error });
  }
  if (e.type === 'entity.too.large') {
    return new AppError(413, 'payload_too_large', 'The request body is larger than the limit', { cause: error });
  }
  // Other http-errors from Express and body-parser (a path's bad %-escape, a body whose
  // Content-Encoding lies, an unsupported charset): the client's fault, never a 500.
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const reason = error instanceof URIError ? 'malformed %-escape in the URL' : String(e.type ?? (error as Error).message);
    return new AppError(status === 415 ? 415 : 400, 'validation_failed', `Bad request (${reason})`, { cause: error });
  }
  // opossum: the breaker is open, or the guarded call timed out.
  if (e.code === 'EOPENBREAKER' || e.code === 'ETIMEDOUT' || e.code === 'ESEMLOCKED') {
    return new DependencyUnavailableError('upstream', { cause: error });
  }
  return new AppError(500, 'internal', 'Internal server error', { cause: error });
};

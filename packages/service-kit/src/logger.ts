import { type Logger, pino } from 'pino';

/**
 * Paths pino replaces with `[redacted]`. Secrets reach logs through headers and
 * through config objects; both are covered.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.ADMIN_TOKEN',
  '*.TRACE_INGEST_TOKEN',
  '*.REDIS_URL',
  '*.REDIS_CACHE_URL',
  '*.DATABASE_URL',
  '*.adminToken',
  '*.redisUrl',
  '*.databaseUrl',
];

/**
 * Header names that carry credentials or session state, whatever a client or proxy calls
 * them (`authorization`, `cookie`, `x-admin-token`, `x-api-key`, `proxy-authorization`, …).
 */
const CREDENTIAL_HEADER = /auth|cookie|token|secret|passw|api[-_]?key|session|signature|credential|idempotency-key/i;

/** Headers as they may be logged: every credential-bearing one replaced with `[redacted]`. */
export const redactHeaders = (headers: Record<string, unknown> | undefined): Record<string, unknown> | undefined =>
  headers &&
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, CREDENTIAL_HEADER.test(name) ? '[redacted]' : value]));

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  service: string;
  instanceId?: string;
  /** Default `info`. */
  level?: string;
}

/** JSON logs on stdout with the service and instance on every line and secrets redacted. */
export const createLogger = ({ service, instanceId, level = 'info' }: LoggerOptions): Logger =>
  pino({
    level,
    base: { service, ...(instanceId ? { instanceId } : {}) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });

/** Strip the password from a URL so it can be logged. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
};

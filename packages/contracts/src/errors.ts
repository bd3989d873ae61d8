/**
 * Machine-readable error codes. Every problem+json body carries one as `code`, so a
 * client can branch on it without parsing `detail`.
 */
export const ERROR_CODES = [
  'validation_failed',
  'malformed_json',
  'payload_too_large',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'insufficient_stock',
  'idempotency_key_reused',
  'request_in_flight',
  'rate_limited',
  'dependency_unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One failed rule on one field, as a 400 lists them. `path` is dotted (`items.0.quantity`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** RFC 9457 problem details, with Storefront's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  errors?: FieldIssue[];
  [extension: string]: unknown;
}

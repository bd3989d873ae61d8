import { timingSafeEqual } from 'node:crypto';
import { AppError, type AuthGuards, NotFoundError, parseOrThrow, UnauthorizedError } from '@storefront/service-kit';
import { Router } from 'express';
import { z } from 'zod';
import { ExportTraceRequest, spansOf } from '../traces/otlp-json.js';
import type { TraceStore } from '../traces/trace-store.js';

const TraceId = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');
const TraceQuery = z.strictObject({
  orderId: z.uuid().optional(),
  around: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * The dashboard as the demo's trace receiver: `POST /v1/traces`, OTLP/HTTP with a JSON body
 * (what the services' exporter and the Collector's `otlphttp` exporter send), for callers
 * holding `TRACE_INGEST_TOKEN` as a bearer token; off (404) without one. Mounted before the
 * session middleware: an exporter has a token, not a session.
 */
export const traceIngestRoutes = (store: TraceStore, ingestToken: string | undefined): Router => {
  const router = Router();

  router.post('/v1/traces', (req, res) => {
    if (!ingestToken) throw new NotFoundError('The trace receiver (set TRACE_INGEST_TOKEN)');
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    if (scheme !== 'Bearer' || !token || !sameSecret(token, ingestToken)) {
      throw new UnauthorizedError('A trace export needs the ingest token as a bearer token');
    }
    if (!req.is('application/json')) {
      throw new AppError(415, 'validation_failed', 'The receiver takes OTLP/HTTP JSON (application/json) only');
    }
    store.add(spansOf(parseOrThrow(ExportTraceRequest, req.body, 'body')));
    res.json({ partialSuccess: {} });
  });
  return router;
};

/**
 * The trace viewer's API for signed-in users: `GET /api/traces` (latest first, or nearest
 * `?around=<epoch ms>`, or the trace that placed `?orderId=`) and `GET /api/traces/:traceId`.
 */
export const traceApiRoutes = (store: TraceStore, guards: Pick<AuthGuards, 'customer'>): Router => {
  const router = Router();

  router.get('/api/traces', guards.customer, (req, res) => {
    const query = parseOrThrow(TraceQuery, req.query, 'query');
    if (query.orderId) {
      const traceId = store.traceOfOrder(query.orderId);
      res.json({ items: traceId ? [store.summary(traceId)] : [] });
      return;
    }
    res.json({ items: store.recent({ limit: query.limit, around: query.around }) });
  });

  router.get('/api/traces/:traceId', guards.customer, (req, res) => {
    const traceId = parseOrThrow(TraceId, req.params.traceId, 'params.traceId');
    const spans = store.trace(traceId);
    if (!spans) throw new NotFoundError(`Trace ${traceId}`);
    res.json({ ...store.summary(traceId), items: spans });
  });

  return router;
};

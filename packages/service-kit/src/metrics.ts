import type { Request } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { ResponseObserver } from './response-over.js';

/** A service's metrics: its own registry (never the global one) plus the HTTP histogram. */
export interface ServiceMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/**
 * Create a per-service registry with Node's default metrics and
 * `http_request_duration_seconds`. Pattern metrics (redis-kit) register on the same registry.
 */
export const createMetrics = (service: string, instanceId?: string): ServiceMetrics => {
  const registry = new Registry();
  registry.setDefaultLabels({ service, ...(instanceId ? { instance_id: instanceId } : {}) });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, httpDuration };
};

/** The matched route template (`/products/:id`, with its router's base), or `unmatched`. */
export const routeTemplate = (req: Request): string => {
  const routePath = (req.route as { path?: string } | undefined)?.path;
  return routePath ? `${req.baseUrl}${routePath}` : 'unmatched';
};

/**
 * The HTTP histogram's observation of a response (run it through `observeResponses`). The
 * route label is the matched template (`/products/:id`), never the raw path, so label
 * cardinality stays bounded; unmatched requests are `unmatched`. A response the client
 * abandoned before it was sent is not observed (the request log has it, as 499).
 */
export const httpMetrics =
  (metrics: ServiceMetrics): ResponseObserver =>
  (req, res, elapsedMs) => {
    if (res.writableFinished) series(metrics, req.method, routeTemplate(req), res.statusCode).observe(elapsedMs / 1000);
  };

/**
 * The histogram's child for one label set, looked up once and kept: prom-client hashes the
 * label object on every `observe(labels, v)`; a child observes without. Bounded like the
 * labels themselves (methods × route templates × status codes).
 */
const children = new WeakMap<ServiceMetrics, Map<string, ReturnType<ServiceMetrics['httpDuration']['labels']>>>();
const series = (metrics: ServiceMetrics, method: string, route: string, status: number) => {
  let byKey = children.get(metrics);
  if (!byKey) {
    byKey = new Map();
    children.set(metrics, byKey);
  }
  const key = `${method} ${status} ${route}`;
  let child = byKey.get(key);
  if (!child) {
    child = metrics.httpDuration.labels({ method, route, status_code: String(status) });
    byKey.set(key, child);
  }
  return child;
};

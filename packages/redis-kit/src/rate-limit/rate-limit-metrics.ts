import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the rate limiter, created once per registry (see `perRegistry`). */
export const rateLimitMetrics = perRegistry((registers) => ({
  rateLimited: new Counter({
    name: 'rate_limit_rejections_total',
    help: 'Requests rejected by a rate limiter, by backend (redis, or memory while Redis is down)',
    labelNames: ['limiter', 'backend'] as const,
    registers,
  }),
}));

import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of idempotency keys, created once per registry (see `perRegistry`). */
export const idempotencyMetrics = perRegistry((registers) => ({
  idempotency: new Counter({
    name: 'idempotency_requests_total',
    help: 'Idempotent requests by outcome: executed, replayed, in_flight, mismatch, abandoned (a claim removed after Redis could not answer)',
    labelNames: ['outcome'] as const,
    registers,
  }),
}));

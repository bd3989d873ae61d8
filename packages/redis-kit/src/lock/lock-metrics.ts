import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the lock, created once per registry (see `perRegistry`). */
export const lockMetrics = perRegistry((registers) => ({
  lockWait: new Histogram({
    name: 'lock_wait_seconds',
    help: 'Time from asking for a lock to getting it (or giving up)',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  }),
  lockContention: new Counter({
    name: 'lock_contention_total',
    help: 'Acquire attempts that found the lock held by someone else',
    registers,
  }),
  lockLost: new Counter({
    name: 'lock_lost_total',
    help: 'Leases lost before release (expired while held, or taken over): the fencing token is what keeps these safe',
    registers,
  }),
  lockFenceRaised: new Counter({
    name: 'lock_fence_raised_total',
    help: 'Fencing counters moved up to a fence the store held (the counter was lost or reset in Redis)',
    registers,
  }),
  lockHandOffs: new Counter({
    name: 'lock_handoffs_total',
    help: 'Releases that handed the lock straight to the first waiter in its queue (hand-off mode)',
    registers,
  }),
  lockHeld: new Histogram({
    name: 'lock_held_seconds',
    help: 'How long leases were held',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers,
  }),
}));

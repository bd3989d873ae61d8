import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of a process's Redis connections, created once per registry (see `perRegistry`). */
export const connectionMetrics = perRegistry((registers) => ({
  revived: new Counter({
    name: 'redis_connection_revived_total',
    help: 'Redis clients brought back after ioredis ended them without a close (see reviveAfterEnd)',
    labelNames: ['connection'] as const,
    registers,
  }),
}));

import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of {@link DataLossMarker}, created once per registry (see `perRegistry`). */
export const dataLossMetrics = perRegistry((registers) => ({
  checks: new Counter({
    name: 'redis_data_loss_checks_total',
    help: 'Data-loss marker checks, by outcome: present (Redis still holds the marker), missing (it does not: the data was lost or never written; this caller set it again) or failed (Redis did not answer)',
    labelNames: ['marker', 'outcome'] as const,
    registers,
  }),
}));

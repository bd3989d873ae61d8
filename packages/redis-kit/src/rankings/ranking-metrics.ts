import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of {@link SlidingRanking}, created once per registry (see `perRegistry`). */
export const rankingMetrics = perRegistry((registers) => ({
  records: new Counter({
    name: 'ranking_records_total',
    help: 'Events offered to a sliding ranking, by outcome: counted, duplicate (already counted), expired (older than the window) or failed (Redis did not answer)',
    labelNames: ['ranking', 'outcome'] as const,
    registers,
  }),
}));

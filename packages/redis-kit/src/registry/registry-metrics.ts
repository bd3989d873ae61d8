import { Counter, Gauge } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the registry, created once per registry (see `perRegistry`). */
export const registryMetrics = perRegistry((registers) => ({
  registryInstances: new Gauge({
    name: 'registry_instances',
    help: 'Live instances per service as discovery last saw them',
    labelNames: ['service'] as const,
    registers,
  }),
  registryHeartbeats: new Counter({
    name: 'registry_heartbeats_total',
    help: 'Registry heartbeats by outcome: renewed, reregistered (key was gone), failed',
    labelNames: ['outcome'] as const,
    registers,
  }),
}));

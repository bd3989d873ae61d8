import { Counter, Gauge } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the registry, created once per registry (see `perRegistry`). */
export const registryMetrics = perRegistry((registers) => ({
  registryInstances: new Gauge({
    name: 'registry_instances',
    // Not `service`: that label names the process exporting the metric (a default label, and
    // the target label Prometheus's discovery adds), so a Prometheus scrape would rename this
    // one to `exported_service` and a `by (service)` query would group by the wrong thing.
    help: 'Live instances per registered service as discovery last saw them',
    labelNames: ['registered_service'] as const,
    registers,
  }),
  registryHeartbeats: new Counter({
    name: 'registry_heartbeats_total',
    help: 'Registry heartbeats by outcome: renewed, reregistered (key was gone), failed',
    labelNames: ['outcome'] as const,
    registers,
  }),
}));

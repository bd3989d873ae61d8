import type { Registry } from 'prom-client';

/**
 * Each pattern declares its own metrics with this: `perRegistry(create)` gives a function
 * that returns the metrics `create` made on a registry — the same objects every time for
 * that registry, so several caches or locks in one process add to one series per label
 * set — or `undefined` without a registry (metrics off). Every pattern takes a `registry`
 * option; services pass their per-service registry, which `/metrics` serves.
 */
export const perRegistry = <M>(create: (registers: Registry[]) => M) => {
  const byRegistry = new WeakMap<Registry, M>();
  return (registry: Registry | undefined): M | undefined => {
    if (!registry) return undefined;
    let metrics = byRegistry.get(registry);
    if (!metrics) {
      metrics = create([registry]);
      byRegistry.set(registry, metrics);
    }
    return metrics;
  };
};

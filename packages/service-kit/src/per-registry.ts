import type { Registry } from 'prom-client';

/**
 * Metrics created once per registry: `perRegistry(create)` gives a function returning the
 * metrics `create` made on a registry — the same objects every time, so several breakers
 * or sweepers in one process add to one series per label set. (redis-kit has the same
 * helper for its patterns; the layering keeps the two packages apart.)
 */
export const perRegistry = <M>(create: (registers: Registry[]) => M) => {
  const byRegistry = new WeakMap<Registry, M>();
  return (registry: Registry): M => {
    let metrics = byRegistry.get(registry);
    if (!metrics) {
      metrics = create([registry]);
      byRegistry.set(registry, metrics);
    }
    return metrics;
  };
};

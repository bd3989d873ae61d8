import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { registryKeys } from '../src/registry/registry-keys.js';

describe('registryKeys', () => {
  it('puts a service registry index and its instances on one Cluster slot', () => {
    const keys = registryKeys('registry');
    expect(calculateSlot(keys.index('catalog'))).toBe(calculateSlot(keys.instance('catalog', 'abc')));
  });

  it('builds every name under the caller’s prefix', () => {
    const keys = registryKeys('shop-a');
    expect([keys.index('order'), keys.instance('order', 'o-1'), keys.changes]).toEqual([
      'shop-a:{order}:instances',
      'shop-a:{order}:instance:o-1',
      'shop-a:changes',
    ]);
  });
});

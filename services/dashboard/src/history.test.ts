import { describe, expect, it } from 'vitest';
import { MetricsHistory } from './history.js';
import type { Sample } from './metrics-text.js';

const orderBuckets = (counts: Record<string, number>): Sample[] =>
  Object.entries(counts).map(([le, value]) => ({
    name: 'http_request_duration_seconds_bucket',
    labels: { method: 'POST', route: '/orders', status_code: '201', le },
    value,
  }));

describe('MetricsHistory', () => {
  it('turns counters into a rate and interval quantiles, ignoring what came before the first refresh', () => {
    const history = new MetricsHistory(10, 0);
    // 100 orders already counted before the dashboard looked: not part of any interval.
    history.record(0, [{ instanceId: 'o1', samples: orderBuckets({ '0.01': 100, '0.1': 100, '+Inf': 100 }) }], {}, 5);
    // In the next 2 s: 40 more orders, 30 under 10 ms and 10 between 10 and 100 ms.
    const point = history.record(
      2000,
      [{ instanceId: 'o1', samples: orderBuckets({ '0.01': 130, '0.1': 140, '+Inf': 140 }) }],
      {},
      5,
    );
    expect(point?.ordersPerSec).toBe(20);
    expect(point?.orderP50Ms).toBeCloseTo(6.7, 1); // rank 20 of 30 in [0, 10 ms)
    expect(point?.orderP99Ms).toBeCloseTo(96.4, 1); // rank 39.6: 9.6 of 10 into [10, 100 ms)
    expect(history.points).toHaveLength(1);
  });

  it('reads a counter that went down as a restarted instance (its value is the increment)', () => {
    const history = new MetricsHistory(10, 0);
    const cache = (l1: number, miss: number): Sample[] => [
      { name: 'cache_requests_total', labels: { tier: 'l1' }, value: l1 },
      { name: 'cache_requests_total', labels: { tier: 'miss' }, value: miss },
    ];
    history.record(0, [{ instanceId: 'c1', samples: cache(500, 50) }], {}, 5);
    const point = history.record(1000, [{ instanceId: 'c1', samples: cache(3, 1) }], {}, 5);
    expect(point?.cacheShare).toEqual({ l1: 0.75, l2: 0, miss: 0.25 });
  });

  it('keeps the last `size` points and skips refreshes closer than its minimum interval', () => {
    const history = new MetricsHistory(3, 500);
    for (let at = 0; at <= 5000; at += 1000) history.record(at, [], { notifications: at }, 1);
    expect(history.record(5100, [], {}, 1)).toBeUndefined();
    expect(history.points.map((p) => p.at)).toEqual([3000, 4000, 5000]);
    expect(history.points.at(-1)?.queueDepth).toEqual({ notifications: 5000 });
  });
});

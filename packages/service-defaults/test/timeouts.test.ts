import { loadConfig } from '@storefront/service-kit';
import { describe, expect, it } from 'vitest';
import { serviceEnv } from '../src/service-env.js';
import { checkTimeouts, placeWorstCaseMs, timeoutEnv } from '../src/timeouts.js';

const schema = serviceEnv.extend({ ...timeoutEnv }).superRefine(checkTimeouts);
const load = (env: Record<string, string>) => loadConfig(schema, { PORT: '1', ...env });

describe('timeouts that must nest', () => {
  it('nest by default: lock wait < reservation timeout, worst case of placing < idempotency claim', () => {
    const config = load({});
    expect(config.STOCK_LOCK_WAIT).toBeLessThan(config.RESERVATION_TIMEOUT);
    expect(placeWorstCaseMs(config)).toBeLessThan(config.IDEMPOTENCY_IN_FLIGHT_TTL);
  });

  it('refuses a reservation timeout that does not outlast catalog’s lock wait, naming both', () => {
    expect(() => load({ STOCK_LOCK_WAIT: '10s', RESERVATION_TIMEOUT: '10s' })).toThrow(
      /RESERVATION_TIMEOUT must be longer than STOCK_LOCK_WAIT \(10000 ms <= 10000 ms\)/,
    );
  });

  it('refuses an idempotency claim shorter than placing an order can take, naming the variables', () => {
    // 2 × 20 s + 5 s = 45 s: a retry at 31 s would run the same request twice.
    expect(() => load({ RESERVATION_TIMEOUT: '20s', IDEMPOTENCY_IN_FLIGHT_TTL: '30s' })).toThrow(
      /IDEMPOTENCY_IN_FLIGHT_TTL must be longer than placing an order can take: 2 × RESERVATION_TIMEOUT \+ 5000 ms = 45000 ms/,
    );
  });

  it('names every broken rule at once, on one line', () => {
    const run = () => load({ STOCK_LOCK_WAIT: '30s', RESERVATION_TIMEOUT: '20s', IDEMPOTENCY_IN_FLIGHT_TTL: '10s' });
    expect(run).toThrow(/RESERVATION_TIMEOUT .*; IDEMPOTENCY_IN_FLIGHT_TTL /);
    expect(run).not.toThrow(/\n/);
  });
});

import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AppError, DependencyUnavailableError } from './errors.js';
import { perRegistry } from './per-registry.js';

/** Options for {@link createBreaker}. */
export interface BreakerOptions {
  /** Names the breaker in metrics and errors (`catalog`, `webhook`). */
  name: string;
  /** Registry for `circuit_breaker_state` and `circuit_breaker_events_total`. */
  registry: Registry;
  /** A call slower than this fails. Default 2 000 ms. */
  timeoutMs?: number;
  /** Open when this percentage of calls in the window fail. Default 50. */
  errorThresholdPercentage?: number;
  /** Stay open this long before letting one trial call through. Default 5 000 ms. */
  resetTimeoutMs?: number;
  /** Calls needed in the window before the breaker may open. Default 5. */
  volumeThreshold?: number;
}

const STATE = { closed: 0, half_open: 1, open: 2 } as const;
const breakerMetrics = perRegistry((registers) => ({
  state: new Gauge({
    name: 'circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
    labelNames: ['breaker'] as const,
    registers,
  }),
  events: new Counter({
    name: 'circuit_breaker_events_total',
    help: 'Breaker outcomes: success, failure, timeout, reject (short-circuited while open), fallback',
    labelNames: ['breaker', 'event'] as const,
    registers,
  }),
}));

/**
 * An opossum breaker around `action`. Client errors (an {@link AppError} below 500,
 * e.g. 404 or 409 from the dependency) are answers, not failures: they do not count
 * towards opening. While open, calls fail at once with a 503 {@link DependencyUnavailableError}
 * carrying `Retry-After` until the next trial.
 */
export const createBreaker = <A extends unknown[], R>(action: (...args: A) => Promise<R>, options: BreakerOptions) => {
  const resetTimeoutMs = options.resetTimeoutMs ?? 5_000;
  const breaker = new CircuitBreaker<A, R>(action, {
    name: options.name,
    timeout: options.timeoutMs ?? 2_000,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    resetTimeout: resetTimeoutMs,
    volumeThreshold: options.volumeThreshold ?? 5,
    errorFilter: (error: unknown) => error instanceof AppError && error.status < 500,
  });
  const { state, events } = breakerMetrics(options.registry);
  const label = { breaker: options.name };
  state.set(label, STATE.closed);
  breaker.on('open', () => state.set(label, STATE.open));
  breaker.on('halfOpen', () => state.set(label, STATE.half_open));
  breaker.on('close', () => state.set(label, STATE.closed));
  for (const event of ['success', 'failure', 'timeout', 'reject', 'fallback']) {
    // opossum's typings overload `on` per event; all of these share one listener shape.
    (breaker as unknown as NodeJS.EventEmitter).on(event, () => events.inc({ ...label, event }));
  }
  return {
    breaker,
    /** Call through the breaker; breaker-open and timeout errors become 503 with `Retry-After`. */
    call: async (...args: A): Promise<R> => {
      try {
        return await breaker.fire(...args);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'EOPENBREAKER' || code === 'ETIMEDOUT') {
          throw new DependencyUnavailableError(options.name, {
            cause: error,
            retryAfterSeconds: Math.ceil(resetTimeoutMs / 1000),
          });
        }
        throw error;
      }
    },
  };
};

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createBreaker } from './breaker.js';
import { DependencyUnavailableError, NotFoundError } from './errors.js';

describe('createBreaker', () => {
  it('opens after failures, then fails fast with a 503 and exports its state', async () => {
    const registry = new Registry();
    let calls = 0;
    const { call } = createBreaker(
      async () => {
        calls++;
        throw new Error('connection refused');
      },
      { name: 'catalog', registry, volumeThreshold: 3, resetTimeoutMs: 60_000 },
    );
    for (let i = 0; i < 3; i++) await expect(call()).rejects.toThrow('connection refused');
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).retryAfterSeconds).toBe(60);
    expect(calls).toBe(3);
    expect(await registry.metrics()).toMatch(/circuit_breaker_state\{breaker="catalog"\} 2/);
  });

  it('does not count client errors (4xx answers) as failures', async () => {
    const registry = new Registry();
    const { call } = createBreaker(
      async () => {
        throw new NotFoundError('Product x');
      },
      { name: 'catalog', registry, volumeThreshold: 2 },
    );
    for (let i = 0; i < 5; i++) await expect(call()).rejects.toThrow(NotFoundError);
    expect(await registry.metrics()).toMatch(/circuit_breaker_state\{breaker="catalog"\} 0/);
  });
});

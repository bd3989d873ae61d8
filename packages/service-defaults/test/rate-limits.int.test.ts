import { randomUUID } from 'node:crypto';
import { createRedis, RateLimiter, type RedisClient } from '@storefront/redis-kit';
import { AppError } from '@storefront/service-kit';
import type { Request } from 'express';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spendForCustomer } from '../src/rate-limits.js';

let redis: RedisClient;
beforeAll(() => {
  redis = createRedis({ url: inject('redisUrl') });
});
afterAll(() => redis?.disconnect());

/** A request from `address` (what clientAddress reads without a trusted proxy). */
const from = (address: string) => ({ ip: address, socket: { remoteAddress: address } }) as unknown as Request;

const refusal = (attempt: Promise<void>) =>
  attempt.then(
    () => 'allowed',
    (error: unknown) => (error instanceof AppError && error.status === 429 ? error.message : `unexpected: ${error}`),
  );

describe('spendForCustomer', () => {
  it('spends both limits on every attempt, names the customer’s refusal first, and counts refused attempts against the address', async () => {
    const run = randomUUID().slice(0, 8);
    const limits = {
      perCustomer: new RateLimiter(redis, { name: `cust-${run}`, points: 1, durationSeconds: 60 }),
      perAddress: new RateLimiter(redis, { name: `addr-${run}`, points: 3, durationSeconds: 60 }),
    };
    const address = from('192.0.2.7');
    const outcomes = [
      await refusal(spendForCustomer(limits, 'alice', address, 'orders')),
      // alice's own limit refuses: named for her, and the attempt still costs the address a point.
      await refusal(spendForCustomer(limits, 'alice', address, 'orders')),
      await refusal(spendForCustomer(limits, 'bob', address, 'orders')),
      // A made-up customer from the same address: the address's 3 points are gone.
      await refusal(spendForCustomer(limits, 'carol', address, 'orders')),
      // Both refuse: the customer's is the one named.
      await refusal(spendForCustomer(limits, 'alice', address, 'orders')),
    ];
    expect(outcomes).toEqual([
      'allowed',
      'Too many orders for customer alice',
      'allowed',
      'Too many orders from this address',
      'Too many orders for customer alice',
    ]);
    // Another address is not affected.
    expect(await refusal(spendForCustomer(limits, 'dave', from('192.0.2.8'), 'orders'))).toBe('allowed');
  });
});

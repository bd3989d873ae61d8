import { createBreaker } from '@storefront/service-kit';
import type { Registry } from 'prom-client';
import type { Sender } from './delivery.js';

/**
 * POST each notification to `url` behind a breaker. Any non-2xx answer or network error
 * fails the job (BullMQ retries with backoff); while the breaker is open, jobs fail at
 * once instead of waiting on a dead endpoint.
 */
export const webhookSender = (url: string, registry: Registry, timeoutMs: number): Sender => {
  const { call } = createBreaker(
    async (notification: unknown, idempotencyKey: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(notification),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    },
    { name: 'webhook', registry, timeoutMs: timeoutMs + 500, resetTimeoutMs: 2_000, volumeThreshold: 10 },
  );
  return (notification, key) => call(notification, key);
};

import { randomUUID } from 'node:crypto';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, type Stack, startStack } from './stack.js';

const TTL_MS = 1500;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { catalog: { REGISTRY_TTL_MS: String(TTL_MS) } } });
});
afterAll(() => stack?.stop());

const order = (i: number, productId: string) => stack.placeOrder(i, `f-${i}`, [{ productId, quantity: 1 }]);
const instanceIdOf = (logs: Record<string, unknown>[]) => String(logs.find((l) => l.instanceId)?.instanceId);

describe('catalog faults', () => {
  it('keeps orders succeeding through the other catalog when one is SIGKILLed, and drops the dead one within its TTL', async () => {
    const id = `half-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(id, 100);
    const victim = stack.catalog[0]!;
    const victimId = instanceIdOf(victim.logs);
    expect(await stack.redis.exists(`registry:{catalog}:instance:${victimId}`)).toBe(1);
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    // Orders right after the kill, while the dead instance is still listed.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => order(i, id)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    await waitFor(async () => (await stack.redis.exists(`registry:{catalog}:instance:${victimId}`)) === 0, {
      timeoutMs: TTL_MS * 3,
      description: 'dead instance to expire',
    });
    expect(Date.now() - killedAt).toBeLessThanOrEqual(TTL_MS + 250);
    const metrics = await (await fetch(`${stack.order[0]!.baseUrl}/metrics`)).text();
    await waitFor(
      async () =>
        /registry_instances\{[^}]*registered_service="catalog"[^}]*\} 1/.test(
          await (await fetch(`${stack.order[1]!.baseUrl}/metrics`)).text(),
        ),
      {
        description: 'order’s discovery to see one catalog',
      },
    );
    expect(metrics).toContain('circuit_breaker_state');
  }, 30_000);

  it('with catalog fully down, answers 503 with Retry-After fast; the breaker opens and then short-circuits', async () => {
    const cached = `gone-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(cached, 10, 1234);
    await stack.catalog[1]!.stop('SIGKILL');
    const timings: number[] = [];
    const answers = [];
    for (let i = 0; i < 8; i++) {
      const started = performance.now();
      answers.push(await order(i, cached));
      timings.push(performance.now() - started);
    }
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(503));
    expect(answers.every((a) => Number(a.headers.get('retry-after')) >= 1)).toBe(true);
    expect(answers[0]!.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'catalog' });
    expect(Math.max(...timings)).toBeLessThan(1000);
    const metrics = async () => (await fetch(`${stack.order[0]!.baseUrl}/metrics`)).text();
    // The rolling window still holds the earlier successes; keep ordering (at most 60 times) until failures dominate.
    let extra = 0;
    await waitFor(
      async () => {
        if (/circuit_breaker_state\{[^}]*breaker="catalog"[^}]*\} 2/.test(await metrics())) return true;
        if (extra++ >= 60) throw new Error('breaker never opened');
        await order(0, cached);
        return false;
      },
      { intervalMs: 10, description: 'breaker open' },
    );
    // Open: answers without trying catalog at all (opossum counts a short-circuit as a reject).
    const rejects = async () =>
      Number(
        /circuit_breaker_events_total\{[^}]*breaker="catalog"[^}]*event="reject"[^}]*\} (\d+)/.exec(await metrics())?.[1] ?? 0,
      );
    const before = await rejects();
    expect((await order(0, cached)).status).toBe(503);
    expect(await rejects()).toBeGreaterThan(before);
    expect((await get(`${stack.order[0]!.baseUrl}/health/live`)).status).toBe(200);
  }, 30_000);
});

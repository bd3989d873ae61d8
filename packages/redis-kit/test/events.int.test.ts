import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { lineReader, track, waitFor } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { EventBus } from '../src/events/event-bus.js';
import { EventStream, type StreamConsumer } from '../src/events/event-stream.js';

const fixture = fileURLToPath(new URL('./fixtures/stream-consumer.mjs', import.meta.url));
const opened: RedisClient[] = [];
const connect = (role: 'command' | 'subscriber' | 'worker' = 'command') => {
  const c = createRedis({ url: inject('redisUrl') }, { role });
  opened.push(c);
  return c;
};
afterAll(() => {
  for (const c of opened) c.disconnect();
});

// The caller's events: redis-kit takes their schemas, it does not know them.
const ProductUpdated = z.object({
  id: z.uuid(),
  type: z.literal('product.updated'),
  version: z.literal(1),
  occurredAt: z.iso.datetime(),
  data: z.object({
    productId: z.string(),
    version: z.number().int(),
    priceCents: z.number().int().min(0),
    previousPriceCents: z.number().int().nullable(),
  }),
});
type ProductUpdated = z.infer<typeof ProductUpdated>;
const schemas = { 'product.updated': ProductUpdated };

const productUpdated = (priceCents: number): ProductUpdated => ({
  id: randomUUID(),
  type: 'product.updated',
  version: 1,
  occurredAt: new Date().toISOString(),
  data: { productId: 'sku-1', version: 2, priceCents, previousPriceCents: 500 },
});
const names = () => {
  const tag = Math.random().toString(36).slice(2, 8);
  return { stream: `test:{ev${tag}}`, deadLetterStream: `test:{ev${tag}}:dead` };
};

describe('EventBus (pub/sub)', () => {
  it('delivers valid events typed, and counts and drops invalid messages without stopping', async () => {
    const registry = new Registry();
    const invalid: string[] = [];
    const redis = connect();
    const bus = new EventBus<ProductUpdated>(redis, connect('subscriber'), {
      schemas,
      registry,
      onInvalid: (_c, reason) => invalid.push(reason),
    });
    const received: number[] = [];
    await bus.subscribe('product.updated', (event) => {
      received.push(event.data.priceCents);
    });
    expect(await bus.publish(productUpdated(400))).toBe(1);
    await redis.publish('events:product.updated', 'not json');
    await redis.publish('events:product.updated', JSON.stringify({ ...productUpdated(1), data: { productId: 'sku-1' } }));
    await bus.publish(productUpdated(300));
    await waitFor(() => received.length === 2, { description: 'two valid events' });
    expect(received).toEqual([400, 300]);
    expect(invalid).toHaveLength(2);
    expect(await registry.metrics()).toMatch(/events_invalid_total\{channel="events:product.updated"\} 2/);
    await bus.close();
  });

  it('refuses to publish an event that breaks its schema', async () => {
    const bus = new EventBus<ProductUpdated>(connect(), connect('subscriber'), { schemas });
    const bad = { ...productUpdated(1), data: { productId: 'sku-1', priceCents: -5 } } as unknown as ProductUpdated;
    await expect(bus.publish(bad)).rejects.toThrow();
    await bus.close();
  });
});

describe('EventStream (durable)', () => {
  it('hands a message whose consumer was SIGKILLed mid-message to another consumer', async () => {
    const n = names();
    const redis = connect();
    const events = new EventStream(redis, { ...n, schema: ProductUpdated });
    await events.ensureGroup('notifier');
    const child = track(
      spawn(process.execPath, [fixture, inject('redisUrl'), n.stream, n.deadLetterStream, 'notifier', 'doomed'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const lines = lineReader(child.stdout!);
    expect(await lines.nextJson()).toEqual({ consuming: true });
    const id = await events.append(productUpdated(100));
    expect(await lines.nextJson()).toEqual({ got: id });
    child.kill('SIGKILL');
    await once(child, 'exit');

    const handled: string[] = [];
    const consumer = await events.consume(
      connect('worker'),
      { group: 'notifier', consumer: 'survivor', claimIdleMs: 200, blockMs: 50 },
      async (_e, got) => {
        handled.push(got);
      },
    );
    await waitFor(() => handled.length === 1, { description: 'reclaim' });
    expect(handled).toEqual([id]);
    await waitFor(async () => ((await redis.xpending(n.stream, 'notifier')) as [number])[0] === 0, { description: 'ack' });
    await consumer.stop();
  });

  it('dead-letters a message after too many failed deliveries, and an invalid one at once', async () => {
    const n = names();
    const redis = connect();
    const registry = new Registry();
    const events = new EventStream(redis, { ...n, schema: ProductUpdated, registry });
    await events.ensureGroup('g');
    const good = await events.append(productUpdated(100));
    const junk = await redis.xadd(n.stream, '*', 'event', '{"type":"nope"}');
    let attempts = 0;
    const consumer: StreamConsumer = await events.consume(
      connect('worker'),
      { group: 'g', consumer: 'c', claimIdleMs: 30, blockMs: 20, maxDeliveries: 2 },
      async () => {
        attempts++;
        throw new Error('webhook down');
      },
    );
    await waitFor(async () => (await redis.xlen(n.deadLetterStream)) === 2, { description: 'two dead letters' });
    await consumer.stop();
    const fields = (flat: string[]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
    const dead = (await redis.xrange(n.deadLetterStream, '-', '+')).map(([, flat]) => fields(flat));
    expect(dead.map((d) => [d.sourceId, d.reason])).toEqual(
      expect.arrayContaining([
        [junk, 'invalid'],
        [good, 'max_deliveries'],
      ]),
    );
    expect(attempts).toBe(2);
    expect(((await redis.xpending(n.stream, 'g')) as [number])[0]).toBe(0);
    expect(await registry.metrics()).toMatch(/events_dead_lettered_total\{stream="test:\{ev\w+\}"\} 2/);
  });

  it('trims the stream to about its cap', async () => {
    const n = names();
    const redis = connect();
    const events = new EventStream(redis, { ...n, schema: ProductUpdated, maxLen: 100 });
    for (let i = 0; i < 1000; i++) await events.append(productUpdated(i));
    const length = await redis.xlen(n.stream);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300);
  });
});

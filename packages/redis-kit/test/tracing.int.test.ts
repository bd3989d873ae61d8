import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Loaded } from '../src/cache/entry.js';
import { TwoTierCache } from '../src/cache/two-tier-cache.js';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { EventBus } from '../src/events/event-bus.js';
import { LockTimeoutError } from '../src/lock/errors.js';
import { RedisLock } from '../src/lock/redis-lock.js';

// The patterns' spans through the OpenTelemetry API, with a real SDK registered in this
// process (the services register one in their tracing.ts) and a real Redis.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const ns = () => `test:tracing:${Math.random().toString(36).slice(2)}`;
const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

let redis: RedisClient;
let subscriber: RedisClient;
beforeAll(() => {
  provider.register();
  redis = createRedis({ url: inject('redisUrl') });
  subscriber = createRedis({ url: inject('redisUrl') });
});
afterAll(async () => {
  await Promise.all([redis.quit(), subscriber.quit()]);
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

describe('pattern spans', () => {
  it('records a lock acquisition with its key, wait, attempts and fence, and a timeout as an error', async () => {
    const key = ns();
    const lock = new RedisLock(redis, { acquireTimeoutMs: 150 });
    const lease = await lock.acquire(key);
    await expect(lock.acquire(key)).rejects.toThrow(LockTimeoutError);
    await lease.release();
    const [won, lost] = spans('lock acquire');
    expect(won?.attributes).toMatchObject({ 'lock.key': key, 'lock.fence': lease.fence, 'lock.attempts': 1 });
    expect(won?.attributes['lock.wait_ms']).toBeGreaterThanOrEqual(0);
    expect(lost?.status.code).toBe(2);
    expect(lost?.attributes['lock.wait_ms']).toBeGreaterThanOrEqual(150);
    expect(lost?.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('records the cache tier: a span for a miss and an L2 read, an attribute of the caller’s span for an L1 hit', async () => {
    const namespace = ns();
    const cache = new TwoTierCache<{ price: number }>(redis, subscriber, { namespace });
    const other = new TwoTierCache<{ price: number }>(redis, subscriber, { namespace, l1: false });
    await cache.start();
    await other.start();
    const loader = async (): Promise<Loaded<{ price: number }>> => ({ value: { price: 1 }, version: 1 });
    await cache.getOrLoad('a', loader);
    await other.getOrLoad('a', loader);
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('request', async (span) => {
      await cache.getOrLoad('a', loader);
      span.end();
    });
    expect(spans('cache get').map((s) => s.attributes['cache.tier'])).toEqual(['miss', 'l2']);
    expect(spans('request')[0]?.attributes['cache.tier']).toBe('l1');
    await Promise.all([cache.stop(), other.stop()]);
  });

  it('hands a pub/sub receiver a span in a new trace, linked to the publisher’s', async () => {
    type Ping = { type: 'ping'; n: number };
    const schema = { parse: (v: unknown) => v as Ping };
    const channel = ns();
    const bus = new EventBus<Ping>(redis, subscriber, { schemas: { ping: schema }, channel: () => channel });
    let received!: () => void;
    const handled = new Promise<void>((resolve) => {
      received = resolve;
    });
    await bus.subscribe('ping', () => received());
    const tracer = trace.getTracer('test');
    const sender = await tracer.startActiveSpan('send', async (span) => {
      await bus.publish({ type: 'ping', n: 1 });
      span.end();
      return span.spanContext();
    });
    await handled;
    await bus.close();
    // The receiver's span ends right after its handler returns.
    const consumer = await waitFor(() => spans('receive ping')[0], { description: 'the receiver span' });
    expect(consumer.spanContext().traceId).not.toBe(sender.traceId);
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links.map((l) => l.context.spanId)).toEqual([sender.spanId]);
  });
});

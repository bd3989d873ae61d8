import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, type ServiceProcess, waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';
import { startWebhookSink } from './webhook-sink.js';

/** A span as the dashboard's trace API answers it. */
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: string;
  service: string;
  startMs: number;
  durationMs: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
}

// Every service exports its spans over OTLP/HTTP to the dashboard (the demo's receiver),
// authenticated with the ingest token, as `pnpm demo` wires it.
const token = randomBytes(24).toString('hex');
let dashboardPort: number;
let stack: Stack;
let dashboard: ServiceProcess;
let sink: Awaited<ReturnType<typeof startWebhookSink>>;

beforeAll(async () => {
  sink = await startWebhookSink();
  dashboardPort = await freePort();
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dashboardPort}`,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token}`,
  };
  stack = await startStack({
    // A credential in the webhook URL's query, as some customers' endpoints take one.
    env: { catalog: otel, order: otel, notifier: { ...otel, NOTIFY_WEBHOOK_URL: `${sink.url}?key=webhook-secret` } },
  });
  dashboard = await stack.startDashboard({ PORT: String(dashboardPort), TRACE_INGEST_TOKEN: token });
}, 120_000);
afterAll(async () => {
  await dashboard?.stop();
  await stack?.stop();
  await sink?.close();
});

const traceOf = async (traceId: string): Promise<Span[]> => {
  const { status, body } = await get(`${dashboard.baseUrl}/api/traces/${traceId}`, await stack.auth('admin'));
  return status === 200 ? (body.items as Span[]) : [];
};

/** The trace id of a `traceresponse` header (`00-<trace>-<span>-<flags>`). */
const traceIdOf = (header: string | null): string => {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header ?? '');
  if (!match) throw new Error(`no traceresponse header: ${header}`);
  return match[1]!;
};

const ancestorsOf = (spans: Span[], span: Span): Span[] => {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain: Span[] = [];
  for (
    let at = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    at;
    at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined
  ) {
    chain.push(at);
  }
  return chain;
};

describe('one trace per order', () => {
  it('follows an order through order, catalog and notifier: HTTP, lock, Postgres, outbox, queue, attempts, webhook', async () => {
    const productId = `trace-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(productId, 10);
    const customer = `tracer${randomUUID().slice(0, 6)}`;
    // The first delivery attempt is refused: the job is retried, and each attempt has its span.
    sink.setBehaviour((key, attempt) => (key.endsWith(`:${customer}`) && attempt === 1 ? 503 : 200));
    const res = await fetch(`${stack.order[0]!.baseUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await stack.auth(customer)) },
      body: JSON.stringify({ items: [{ productId, quantity: 2 }] }),
    });
    expect(res.status).toBe(201);
    const orderId = ((await res.json()) as { id: string }).id;
    const traceId = traceIdOf(res.headers.get('traceresponse'));

    // Spans arrive in batches (each service exports every second): wait for the whole story.
    const spans = await waitFor(
      async () => {
        const all = await traceOf(traceId);
        const attempts = all.filter((s) => s.service === 'notifier' && s.name === 'process notifications');
        const webhook = all.filter((s) => s.service === 'notifier' && s.kind === 'client' && s.name === 'POST');
        const services = new Set(all.map((s) => s.service));
        // order's relay spans end after the job is queued and go out in order's next batch,
        // which can come after the notifier's: wait for them too.
        const relayed = all.some((s) => s.service === 'order' && s.name === 'outbox relay');
        return attempts.length >= 2 && webhook.length >= 2 && services.size === 3 && relayed ? all : undefined;
      },
      {
        timeoutMs: 30_000,
        description: 'the order trace with both notification attempts',
      },
    );
    const by = (service: string, name: string | RegExp) =>
      spans.filter((s) => s.service === service && (typeof name === 'string' ? s.name === name : name.test(s.name)));
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['order', 'catalog', 'notifier']));

    // order: the server span (named by route), its idempotency span, and its client call to catalog.
    const [root] = by('order', 'POST /orders');
    expect(root?.kind).toBe('server');
    expect(root?.parentSpanId).toBeNull();
    expect(root?.attributes['order.id']).toBe(orderId);
    expect(by('order', 'idempotency')[0]?.attributes['idempotency.outcome']).toBe('first');
    expect(by('order', 'registry pick')[0]?.attributes['registry.service']).toBe('catalog');
    const client = spans.find((s) => s.service === 'order' && s.kind === 'client' && s.name.startsWith('POST'));
    expect(client).toBeDefined();

    // catalog: its server span is the child of order's client span; the lock (with its fence) and Postgres inside.
    const [reserve] = by('catalog', 'POST /reservations');
    expect(reserve?.kind).toBe('server');
    expect(reserve?.parentSpanId).toBe(client!.spanId);
    const [lock] = by('catalog', 'lock acquire');
    expect(lock?.attributes['lock.key']).toContain(productId);
    expect(lock?.attributes['lock.fence']).toBeGreaterThan(0);
    expect(typeof lock?.attributes['lock.wait_ms']).toBe('number');
    expect(ancestorsOf(spans, lock!)).toContain(reserve);
    expect(by('catalog', /^pg\.query/).some((s) => ancestorsOf(spans, s).includes(reserve!))).toBe(true);

    // order's outbox relay continues the request's trace, and adds the notification job there.
    const [relay] = by('order', 'outbox relay');
    expect(relay?.kind).toBe('producer');
    expect(ancestorsOf(spans, relay!)).toContain(root);
    const [add] = by('order', 'add notifications.notify');
    expect(ancestorsOf(spans, add!)).toContain(relay);

    // notifier: one `process` span per attempt, each a child of the job's `add`; the webhook call inside each.
    const attempts = by('notifier', 'process notifications').sort((a, b) => a.startMs - b.startMs);
    expect(attempts.map((a) => a.attributes['bullmq.job.attempt'])).toEqual([1, 2]);
    for (const attempt of attempts) {
      expect(attempt.kind).toBe('consumer');
      expect(attempt.parentSpanId).toBe(add!.spanId);
      expect(attempt.attributes['order.id']).toBe(orderId);
    }
    expect(attempts[1]!.attributes['notification.outcome']).toBe('delivered');
    const calls = spans.filter((s) => s.service === 'notifier' && s.kind === 'client' && s.name === 'POST');
    // The webhook URL's query (where a customer's endpoint may keep a credential) is not recorded.
    expect(calls.map((c) => c.attributes['url.full'])).toEqual(calls.map(() => sink.url.split('?')[0]));
    expect(calls.every((c) => c.attributes['url.query'] === '[redacted]')).toBe(true);
    expect(JSON.stringify(spans)).not.toContain('webhook-secret');
    expect(calls.map((c) => ancestorsOf(spans, c)[0]?.spanId).sort()).toEqual(attempts.map((a) => a.spanId).sort());

    // The dashboard finds the trace by the order.
    const { body } = await get(`${dashboard.baseUrl}/api/traces?orderId=${orderId}`, await stack.auth('admin'));
    expect(body.items[0]).toMatchObject({ traceId, services: ['catalog', 'notifier', 'order'], orderId });
  }, 60_000);

  it('puts the trace id in problem+json and in traceresponse, and continues a caller’s trace', async () => {
    const callerTrace = randomBytes(16).toString('hex');
    const res = await fetch(`${stack.order[0]!.baseUrl}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
        traceparent: `00-${callerTrace}-${randomBytes(8).toString('hex')}-01`,
        ...(await stack.auth('problem-customer')),
      },
      body: JSON.stringify({ items: [] }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as { traceId: string };
    expect(problem.traceId).toBe(callerTrace);
    expect(traceIdOf(res.headers.get('traceresponse'))).toBe(callerTrace);
  });

  it('keeps a caller’s decision not to sample: nothing of that request is recorded', async () => {
    const unsampled = randomBytes(16).toString('hex');
    const skipped = await fetch(`${stack.catalog[0]!.baseUrl}/products/nothing-${randomUUID().slice(0, 4)}`, {
      headers: { traceparent: `00-${unsampled}-${randomBytes(8).toString('hex')}-00` },
    });
    expect(skipped.status).toBe(404);
    expect(skipped.headers.get('traceresponse')).toMatch(new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`));
    // A sampled request to the same instance afterwards: once its trace has arrived, an earlier
    // recorded span of the same process would have been exported with it or before it.
    const sampled = await fetch(`${stack.catalog[0]!.baseUrl}/products/nothing-${randomUUID().slice(0, 4)}`);
    const sampledTrace = traceIdOf(sampled.headers.get('traceresponse'));
    await waitFor(async () => (await traceOf(sampledTrace)).length > 0, { description: 'the sampled request’s trace' });
    expect(await traceOf(unsampled)).toEqual([]);
  });

  it('hands a pub/sub event’s receivers a span linked to the publisher’s trace', async () => {
    // Changing a product publishes product.updated; notifier's watchers handle it in a linked span of a new trace.
    const productId = `linked-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(productId, 5);
    const res = await fetch(`${stack.catalog[0]!.baseUrl}/products/${productId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(await stack.auth('admin')) },
      body: JSON.stringify({ priceCents: 1234 }),
    });
    expect(res.status).toBe(200);
    const traceId = traceIdOf(res.headers.get('traceresponse'));
    const received = await waitFor(
      async () => {
        const { body } = await get(`${dashboard.baseUrl}/api/traces?limit=200`, await stack.auth('admin'));
        for (const summary of body.items as { traceId: string; name: string }[]) {
          if (!summary.name.includes('receive product.updated')) continue;
          const spans = await traceOf(summary.traceId);
          const consumer = spans.find((s) => s.name === 'receive product.updated' && s.links.some((l) => l.traceId === traceId));
          if (consumer) return consumer;
        }
        return undefined;
      },
      { timeoutMs: 20_000, description: 'a receiver span linked to the PATCH trace' },
    );
    expect(received.kind).toBe('consumer');
    expect(received.traceId).not.toBe(traceId);
    expect(received.parentSpanId).toBeNull();
  }, 30_000);

  it('keeps the trace API to signed-in users, and answers bad ids and queries with 400 naming the field', async () => {
    expect((await get(`${dashboard.baseUrl}/api/traces`)).status).toBe(401);
    expect((await get(`${dashboard.baseUrl}/api/traces/${'a'.repeat(32)}`)).status).toBe(401);
    const admin = await stack.auth('admin');
    const badId = await get(`${dashboard.baseUrl}/api/traces/not-a-trace`, admin);
    expect(badId.status).toBe(400);
    expect(JSON.stringify(badId.body.errors)).toContain('params.traceId');
    const badLimit = await get(`${dashboard.baseUrl}/api/traces?limit=999`, admin);
    expect(badLimit.status).toBe(400);
    expect(JSON.stringify(badLimit.body.errors)).toContain('query.limit');
    expect((await get(`${dashboard.baseUrl}/api/traces?orderId=nope`, admin)).status).toBe(400);
    expect((await get(`${dashboard.baseUrl}/api/traces/${'a'.repeat(32)}`, admin)).status).toBe(404);
  });

  it('refuses span exports without the ingest token, and bad export bodies with 400 naming the field', async () => {
    const url = `${dashboard.baseUrl}/v1/traces`;
    expect((await post(url, { resourceSpans: [] })).status).toBe(401);
    expect((await post(url, { resourceSpans: [] }, { authorization: 'Bearer wrong' })).status).toBe(401);
    const bad = await post(
      url,
      {
        resourceSpans: [
          {
            scopeSpans: [{ spans: [{ traceId: 'nope', spanId: 'x', name: 'n', startTimeUnixNano: '1', endTimeUnixNano: '2' }] }],
          },
        ],
      },
      { authorization: `Bearer ${token}` },
    );
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('resourceSpans.0.scopeSpans.0.spans.0.traceId');
    // Not JSON: 415, never a 5xx; and a body that is not an export at all: 400.
    const proto = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(proto.status).toBe(415);
    expect((await post(url, { resourceSpans: 'x' }, { authorization: `Bearer ${token}` })).status).toBe(400);
  });
});

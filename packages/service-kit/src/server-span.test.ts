import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Health } from './health.js';
import { createServiceApp } from './http-app.js';
import { createMetrics } from './metrics.js';
import { recordSpans } from './record-spans.test-support.js';
import { currentTraceId } from './tracing.js';

// What the app's server spans look like, recorded by the official SDK (record-spans).
const exporter = recordSpans();
let baseUrl: string;
let server: http.Server;

beforeAll(async () => {
  const app = createServiceApp({
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('test'),
    health: new Health(),
    routes: (a) => {
      a.get('/things/:id', (_req, res) => {
        res.json({ traceId: currentTraceId() });
      });
      a.post('/things', (req, res) => {
        // A span the handler opens: a child of the request's server span when the context survived the body.
        trace.getTracer('test').startActiveSpan('inside', (span) => {
          span.end();
          res.status(201).json({ traceId: currentTraceId(), got: req.body });
        });
      });
      a.get('/boom', () => {
        throw new Error('boom');
      });
    },
  });
  server = http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

const traceresponse = (res: Response) => {
  const [version, traceId, spanId, flags] = (res.headers.get('traceresponse') ?? '').split('-');
  return { version, traceId, spanId, flags };
};

describe('server spans', () => {
  it('continues a caller’s trace in a SERVER span named by route, and answers with its traceresponse', async () => {
    const caller = { traceId: 'a1'.repeat(16), spanId: 'b2'.repeat(8) };
    const res = await fetch(`${baseUrl}/things/42?token=secret`, {
      headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01`, 'user-agent': 'span-test' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ traceId: caller.traceId });
    const [span, ...others] = exporter.getFinishedSpans();
    expect(others).toEqual([]);
    expect(span?.name).toBe('GET /things/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(caller.traceId);
    expect(span?.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(traceresponse(res)).toEqual({
      version: '00',
      traceId: caller.traceId,
      spanId: span?.spanContext().spanId,
      flags: '01',
    });
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/things/:id',
      'http.response.status_code': 200,
      'url.path': '/things/42',
      'user_agent.original': 'span-test',
    });
    // The query may carry a credential: it is not recorded.
    expect(JSON.stringify(span?.attributes)).not.toContain('secret');
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('keeps the request’s trace in a handler whose body arrived after its headers', async () => {
    // `Expect: 100-continue`: the body is sent only once the server has taken the headers and
    // started the request, so it arrives in a later socket read, outside the request's context.
    const body = JSON.stringify({ late: true });
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = http.request(`${baseUrl}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
      });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(answer.status).toBe(201);
    const [, traceId, spanId] = String(answer.headers.traceresponse).split('-');
    expect(JSON.parse(answer.text)).toEqual({ traceId, got: { late: true } });
    const spans = exporter.getFinishedSpans();
    const inside = spans.find((s) => s.name === 'inside');
    const server = spans.find((s) => s.name === 'POST /things');
    expect(server?.spanContext().spanId).toBe(spanId);
    expect(inside?.parentSpanContext?.spanId).toBe(spanId);
  });

  it('marks a 5xx answer’s span as an error', async () => {
    const res = await fetch(`${baseUrl}/boom`);
    expect(res.status).toBe(500);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /boom');
    expect(span?.attributes['http.response.status_code']).toBe(500);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('starts no trace for probes and scrapes', async () => {
    for (const path of ['/health/live', '/metrics']) {
      const res = await fetch(`${baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('traceresponse')).toBeNull();
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

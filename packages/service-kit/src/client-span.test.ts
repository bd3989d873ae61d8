import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClientSpan } from './client-span.js';
import { recordSpans } from './record-spans.test-support.js';

const exporter = recordSpans();
let server: http.Server;
let port: number;

beforeAll(async () => {
  // Answers with the traceparent it was sent, and the status the path names.
  server = http.createServer((req, res) => {
    res.writeHead(Number(new URL(req.url ?? '/', 'http://x').pathname.slice(1)) || 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ traceparent: req.headers.traceparent ?? null }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
});

/** One request the way order's catalog client makes it: the span opened before, reported after. */
const call = (url: URL) =>
  new Promise<{ status: number; traceparent: string | null }>((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    const span = startClientSpan('POST', url, headers);
    const request = http.request(url, { method: 'POST', headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        span.answered(response.statusCode ?? 0);
        resolve({ status: response.statusCode ?? 0, ...JSON.parse(text) });
      });
    });
    request.on('error', (error) => {
      span.failed(error);
      reject(error);
    });
    request.end();
  });

describe('startClientSpan', () => {
  it('opens a CLIENT span, a child of the active span, and sends its traceparent', async () => {
    const parent = trace.getTracer('test').startSpan('caller');
    const answer = await context.with(trace.setSpan(context.active(), parent), () =>
      call(new URL(`http://127.0.0.1:${port}/201?token=secret`)),
    );
    parent.end();
    const [span] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(span?.name).toBe('POST');
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span?.spanContext().traceId).toBe(parent.spanContext().traceId);
    // The server was sent this span's context: its span will be the client span's child.
    expect(answer.traceparent).toBe(`00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`);
    expect(span?.attributes).toEqual({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `http://127.0.0.1:${port}/201`,
      'http.response.status_code': 201,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('marks an answer of 400 or more an error, with the status code as error.type', async () => {
    await call(new URL(`http://127.0.0.1:${port}/409`));
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['http.response.status_code']).toBe(409);
    expect(span?.attributes['error.type']).toBe('409');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('ends the span as failed when no answer comes, and only once', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const url = new URL(`http://127.0.0.1:${(closed.address() as AddressInfo).port}/`);
    closed.close();
    await once(closed, 'close');
    await expect(call(url)).rejects.toThrow(/ECONNREFUSED/);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/ECONNREFUSED/) });
    expect(spans[0]?.attributes['error.type']).toBe('Error');
  });

  it('records and sends nothing inside a suppressed context', async () => {
    const answer = await context.with(suppressTracing(context.active()), () => call(new URL(`http://127.0.0.1:${port}/200`)));
    expect(answer.traceparent).toBeNull();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

import {
  type Attributes,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { RPCType, setRPCMetadata, suppressTracing } from '@opentelemetry/core';
import type { Request, RequestHandler } from 'express';
import { routeTemplate } from './metrics.js';
import { type ResponseObserver, requestState } from './response-over.js';
import { serviceKitTracer } from './tracing.js';

const SPAN = Symbol('storefront.serverSpan');

/**
 * The request's SERVER span, opened here rather than by OpenTelemetry's HTTP server
 * instrumentation, which binds every request's and response's event emitters to the
 * request's context: ≈ 5 KB of garbage and a wrapped `on` per request, the largest part
 * of what tracing cost a cached read (docs/benchmarks.md, "Product reads").
 *
 * It continues an incoming `traceparent` (W3C, the registered propagator), names the span
 * by method (and, once the response is over, by route template: `POST /orders`), records
 * the stable HTTP semantic-convention attributes (`url.path`, never the query), answers
 * with `traceresponse: 00-<trace id>-<span id>-<flags>` so a caller can look its request
 * up, and runs the rest of the request in the span's context, marked as the request's
 * span for {@link requestSpan}. `ignore`d requests (probes, scrapes) start no trace and
 * nothing inside them does. Without a registered SDK every call is a no-op.
 *
 * A body that arrives after the headers comes in socket events outside the span's
 * context; `express.json` (raw-body) calls back in the context it was called in, so the
 * handlers after it stay in the request's trace (server-span.test.ts holds it). End the
 * span with {@link endServerSpan} from `observeResponses`.
 */
export const serverSpan =
  (ignore: (req: Request) => boolean): RequestHandler =>
  (req, res, next) => {
    if (ignore(req)) return context.with(suppressTracing(context.active()), next);
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = serviceKitTracer.startSpan(req.method, { kind: SpanKind.SERVER }, parent);
    const spanContext = span.spanContext();
    // Without an SDK the span is the API's no-op one, with no ids: nothing to answer or carry.
    if (!isSpanContextValid(spanContext)) return next();
    requestState(res)[SPAN] = span;
    const flags = spanContext.traceFlags.toString(16).padStart(2, '0');
    res.setHeader('traceresponse', `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
    if (span.isRecording()) {
      const attributes: Attributes = {
        'http.request.method': req.method,
        'url.scheme': 'http',
        // Express's path, without the query: a query may carry a credential and is not recorded.
        'url.path': req.path,
        'server.port': req.socket.localPort,
        'network.peer.address': req.socket.remoteAddress,
        'network.protocol.version': req.httpVersion,
        'user_agent.original': req.headers['user-agent'],
      };
      span.setAttributes(attributes);
    }
    return context.with(setRPCMetadata(trace.setSpan(parent, span), { type: RPCType.HTTP, span }), next);
  };

/**
 * Ends the request's server span once its response is over: renamed by route template,
 * its status code and route recorded, an error status for a 5xx. A request the client
 * gave up on keeps no status code (nothing was sent).
 */
export const endServerSpan: ResponseObserver = (req, res) => {
  const span = requestState(res)[SPAN] as Span | undefined;
  if (!span) return;
  if (span.isRecording()) {
    const route = routeTemplate(req);
    span.updateName(`${req.method} ${route}`);
    span.setAttribute('http.route', route);
    if (res.writableFinished) {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
};

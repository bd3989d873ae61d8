import { context, isSpanContextValid, propagation, type Span, trace } from '@opentelemetry/api';
import { getRPCMetadata } from '@opentelemetry/core';
import type { RequestHandler } from 'express';
import { routeTemplate } from './metrics.js';

/** The trace id of the active span, when tracing is on and a span is active. */
export const currentTraceId = (): string | undefined => {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
};

/**
 * The server span of the request being handled (not whatever span is innermost now), to
 * put what a reader looks traces up by on it: `order.id`, `customer.id`.
 */
export const requestSpan = (): Span | undefined => getRPCMetadata(context.active())?.span ?? trace.getActiveSpan();

/**
 * Every answer carries the W3C `traceresponse` header (`00-<trace id>-<server span id>-<flags>`)
 * so a caller can look its request up; the server span is named by its route template
 * (`POST /orders`, `GET /products/:id`), as the metrics label it. Without tracing it does nothing.
 */
export const traceResponse: RequestHandler = (req, res, next) => {
  const span = trace.getActiveSpan();
  const spanContext = span?.spanContext();
  if (span && spanContext && isSpanContextValid(spanContext)) {
    const flags = spanContext.traceFlags.toString(16).padStart(2, '0');
    res.setHeader('traceresponse', `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
    res.once('finish', () => {
      const route = routeTemplate(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.route', route);
    });
  }
  next();
};

/**
 * The active trace context as a plain carrier (`{ traceparent, tracestate? }`), to store
 * with work that runs later elsewhere: an outbox row, an event envelope. Empty without tracing.
 */
export const traceCarrier = (): Record<string, string> => {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
};

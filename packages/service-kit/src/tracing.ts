import { context, isSpanContextValid, propagation, type Span, trace } from '@opentelemetry/api';
import { getRPCMetadata } from '@opentelemetry/core';

/** The tracer service-kit opens its own spans with (the HTTP server and client spans): one instrumentation scope. */
export const serviceKitTracer = trace.getTracer('storefront.service-kit');

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
 * The active trace context as a plain carrier (`{ traceparent, tracestate? }`), to store
 * with work that runs later elsewhere: an outbox row, an event envelope. Empty without tracing.
 */
export const traceCarrier = (): Record<string, string> => {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
};

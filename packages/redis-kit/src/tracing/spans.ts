import {
  type Attributes,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * redis-kit's spans, through the OpenTelemetry API only: without an SDK registered (a
 * library user who does not trace) every call here is a no-op costing next to nothing.
 */
const tracer = trace.getTracer('storefront.redis-kit');

/** `work` inside `span`: an error is recorded on the span and rethrown; the span ends either way. */
const within = async <T>(span: Span, work: (span: Span) => Promise<T> | T): Promise<T> => {
  try {
    return await work(span);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
};

/** Run `work` in a span named `name`; an error is recorded on the span and rethrown. */
export const inSpan = <T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> =>
  tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, (span) => within(span, work));

/** A span for work that is over at once (a registry pick): started and ended here. */
export const instantSpan = (name: string, attributes: Attributes): void => {
  tracer.startSpan(name, { attributes }).end();
};

/** The active trace context as a carrier (`{ traceparent }`), or undefined without tracing. */
export const currentCarrier = (): Record<string, string> | undefined => {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
};

/**
 * Handle a message in a CONSUMER span of a new trace, linked to the trace that sent it
 * (`carrier`): a published message may reach many consumers, and each handling is its own
 * unit of work, not a part of the sender's request.
 */
export const consumeLinked = <T>(
  name: string,
  carrier: unknown,
  attributes: Attributes,
  work: () => Promise<T> | T,
): Promise<T> => {
  const sender =
    carrier && typeof carrier === 'object' ? trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier)) : undefined;
  const links: Link[] = sender ? [{ context: sender }] : [];
  return tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes, links, root: true }, (span) => within(span, work));
};

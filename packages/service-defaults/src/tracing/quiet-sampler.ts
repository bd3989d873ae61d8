import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import { type Sampler, SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace-node';

/**
 * BullMQ's own housekeeping, which would otherwise start a trace of its own every time a
 * worker polls or checks for stalled jobs (several per second per worker, none about an order).
 */
const HOUSEKEEPING =
  /^(getNextJob|moveStalledJobsToWait|startStalledCheckTimer|rateLimit|pause|resume|close|delay|waitUntilReady)\b/;

/**
 * Wraps the configured sampler: a new trace that BullMQ's housekeeping would start is not
 * recorded; everything else (and everything inside a trace already started) is left to
 * `inner`.
 */
export class QuietSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (!trace.getSpanContext(context) && HOUSEKEEPING.test(spanName)) return { decision: SamplingDecision.NOT_RECORD };
    return this.inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `QuietSampler{${this.inner.toString()}}`;
  }
}

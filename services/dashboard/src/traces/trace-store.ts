import type { StoredSpan } from './otlp-json.js';

/** A trace as the list shows it. */
export interface TraceSummary {
  traceId: string;
  /** The root span's name (or the earliest span's, while the root has not arrived). */
  name: string;
  startMs: number;
  durationMs: number;
  services: string[];
  spans: number;
  error: boolean;
  orderId: string | null;
}

/** Options for {@link TraceStore}. */
export interface TraceStoreOptions {
  /** Traces kept; the oldest goes first. Default 2 000. */
  maxTraces?: number;
  /** Spans kept per trace; later ones are dropped (and counted). Default 1 000. */
  maxSpansPerTrace?: number;
}

/**
 * The demo's trace viewer's memory: the spans received over OTLP, grouped by trace, the
 * oldest traces forgotten first. In one process and bounded — a stand-in for Jaeger or
 * Tempo (which docker-compose runs), not a replacement.
 */
export class TraceStore {
  readonly #traces = new Map<string, StoredSpan[]>();
  readonly #byOrder = new Map<string, string>();
  readonly #maxTraces: number;
  readonly #maxSpans: number;
  #dropped = 0;

  constructor({ maxTraces = 2_000, maxSpansPerTrace = 1_000 }: TraceStoreOptions = {}) {
    this.#maxTraces = maxTraces;
    this.#maxSpans = maxSpansPerTrace;
  }

  /** Spans dropped because their trace was full. */
  get dropped(): number {
    return this.#dropped;
  }

  add(spans: readonly StoredSpan[]): void {
    for (const span of spans) {
      let trace = this.#traces.get(span.traceId);
      if (!trace) {
        trace = [];
        this.#traces.set(span.traceId, trace);
        if (this.#traces.size > this.#maxTraces) this.#forget(this.#traces.keys().next().value!);
      }
      if (trace.length >= this.#maxSpans) {
        this.#dropped++;
        continue;
      }
      trace.push(span);
      const orderId = span.attributes['order.id'];
      // The first trace that names an order is the one that placed it (paying or expiring it come later).
      if (typeof orderId === 'string' && !this.#byOrder.has(orderId)) this.#byOrder.set(orderId, span.traceId);
    }
  }

  /** Every span of a trace, earliest first; undefined when it is unknown (or forgotten). */
  trace(traceId: string): StoredSpan[] | undefined {
    const spans = this.#traces.get(traceId);
    return spans && [...spans].sort((a, b) => a.startMs - b.startMs);
  }

  /** The trace an order was placed in (its spans carry `order.id`). */
  traceOfOrder(orderId: string): string | undefined {
    return this.#byOrder.get(orderId);
  }

  /** The latest traces, newest first; `around` (epoch ms) picks the ones nearest that moment instead. */
  recent({ limit = 50, around }: { limit?: number; around?: number } = {}): TraceSummary[] {
    const all = [...this.#traces.keys()].map((id) => this.summary(id)!);
    const sorted =
      around === undefined
        ? all.sort((a, b) => b.startMs - a.startMs)
        : all.sort((a, b) => Math.abs(a.startMs - around) - Math.abs(b.startMs - around));
    return sorted.slice(0, limit);
  }

  summary(traceId: string): TraceSummary | undefined {
    const spans = this.#traces.get(traceId);
    if (!spans?.length) return undefined;
    const ids = new Set(spans.map((s) => s.spanId));
    const root = spans.find((s) => !s.parentSpanId) ?? spans.find((s) => !ids.has(s.parentSpanId!)) ?? spans[0]!;
    const start = Math.min(...spans.map((s) => s.startMs));
    const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
    const orderId = spans.map((s) => s.attributes['order.id']).find((v) => typeof v === 'string');
    return {
      traceId,
      name: `${root.service}: ${root.name}`,
      startMs: start,
      durationMs: end - start,
      services: [...new Set(spans.map((s) => s.service))].sort(),
      spans: spans.length,
      error: spans.some((s) => s.error),
      orderId: typeof orderId === 'string' ? orderId : null,
    };
  }

  #forget(traceId: string): void {
    for (const span of this.#traces.get(traceId) ?? []) {
      const orderId = span.attributes['order.id'];
      if (typeof orderId === 'string' && this.#byOrder.get(orderId) === traceId) this.#byOrder.delete(orderId);
    }
    this.#traces.delete(traceId);
  }
}

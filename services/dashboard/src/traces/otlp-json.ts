import { z } from 'zod';

/** One span as the dashboard keeps it (times in epoch milliseconds). */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  service: string;
  instanceId: string | null;
  startMs: number;
  durationMs: number;
  error: boolean;
  attributes: Record<string, string | number | boolean>;
  /** Spans of other traces this one is linked to (a message's sender). */
  links: { traceId: string; spanId: string }[];
}

const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`), `must be ${length} lowercase hex digits`);
const nanos = z.union([
  z.string().regex(/^\d{1,20}$/, 'must be an integer count of nanoseconds'),
  z.number().int().nonnegative(),
]);

const AnyValue: z.ZodType<unknown> = z.lazy(() =>
  z.object({
    stringValue: z.string().max(4096).optional(),
    boolValue: z.boolean().optional(),
    intValue: z.union([z.string().regex(/^-?\d{1,20}$/), z.number().int()]).optional(),
    doubleValue: z.number().optional(),
    arrayValue: z.object({ values: z.array(AnyValue).max(64).optional() }).optional(),
  }),
);
const KeyValue = z.object({ key: z.string().min(1).max(256), value: AnyValue.optional() });
const Attributes = z.array(KeyValue).max(128).optional();

const Span = z.object({
  traceId: hex(32),
  spanId: hex(16),
  parentSpanId: z.union([hex(16), z.literal('')]).optional(),
  name: z.string().min(1).max(512),
  kind: z.number().int().min(0).max(5).optional(),
  startTimeUnixNano: nanos,
  endTimeUnixNano: nanos,
  attributes: Attributes,
  status: z.object({ code: z.number().int().min(0).max(2).optional() }).optional(),
  links: z
    .array(z.object({ traceId: hex(32), spanId: hex(16) }))
    .max(32)
    .optional(),
});

/** The OTLP/HTTP JSON body of a trace export (`ExportTraceServiceRequest`), bounded. */
export const ExportTraceRequest = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: z.object({ attributes: Attributes }).optional(),
        scopeSpans: z.array(z.object({ spans: z.array(Span).max(2048) })).max(64),
      }),
    )
    .max(64),
});
type ExportTraceRequest = z.output<typeof ExportTraceRequest>;

const KINDS: StoredSpan['kind'][] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

const primitive = (value: unknown): string | number | boolean | undefined => {
  const v = value as
    | {
        stringValue?: string;
        boolValue?: boolean;
        intValue?: string | number;
        doubleValue?: number;
        arrayValue?: { values?: unknown[] };
      }
    | undefined;
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(primitive).join(',');
  return undefined;
};

const attributesOf = (list: z.output<typeof Attributes>): Record<string, string | number | boolean> => {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v = primitive(value);
    if (v !== undefined) out[key] = v;
  }
  return out;
};

/** Milliseconds from an OTLP nanosecond timestamp (string or number), keeping sub-millisecond precision. */
const toMs = (value: string | number): number => {
  const n = typeof value === 'number' ? BigInt(value) : BigInt(value);
  return Number(n / 1000n) / 1000;
};

/** The spans of a validated export request, flattened with their resource's service and instance. */
export const spansOf = (request: ExportTraceRequest): StoredSpan[] =>
  request.resourceSpans.flatMap((resourceSpans) => {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    const service = String(resource['service.name'] ?? 'unknown');
    const instanceId = resource['service.instance.id'] === undefined ? null : String(resource['service.instance.id']);
    return resourceSpans.scopeSpans.flatMap(({ spans }) =>
      spans.map((span): StoredSpan => {
        const startMs = toMs(span.startTimeUnixNano);
        return {
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || null,
          name: span.name,
          kind: KINDS[span.kind ?? 0] ?? 'unspecified',
          service,
          instanceId,
          startMs,
          durationMs: Math.max(0, toMs(span.endTimeUnixNano) - startMs),
          error: span.status?.code === 2,
          attributes: attributesOf(span.attributes),
          links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
        };
      }),
    );
  });

import { describe, expect, it } from 'vitest';
import { ExportTraceRequest, spansOf } from './otlp-json.js';
import { TraceStore } from './trace-store.js';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const exportOf = (traceNumber: number, spans: { id: number; parent?: number; name: string; orderId?: string }[]) => ({
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'order' } },
          { key: 'service.instance.id', value: { stringValue: 'order-0000abcd' } },
        ],
      },
      scopeSpans: [
        {
          spans: spans.map((s) => ({
            traceId: hex(traceNumber, 32),
            spanId: hex(s.id, 16),
            ...(s.parent ? { parentSpanId: hex(s.parent, 16) } : {}),
            name: s.name,
            kind: 2,
            startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(s.id) * 1_000_000n),
            endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(s.id) * 1_000_000n + 2_500_000n),
            attributes: [
              ...(s.orderId ? [{ key: 'order.id', value: { stringValue: s.orderId } }] : []),
              { key: 'lock.fence', value: { intValue: '7' } },
            ],
          })),
        },
      ],
    },
  ],
});

describe('the OTLP JSON receiver’s store', () => {
  it('flattens an export: service and instance from the resource, ms times, typed attributes', () => {
    const [root, child] = spansOf(
      ExportTraceRequest.parse(
        exportOf(1, [
          { id: 1, name: 'POST /orders', orderId: 'o-1' },
          { id: 2, parent: 1, name: 'idempotency' },
        ]),
      ),
    );
    expect(root).toMatchObject({ service: 'order', instanceId: 'order-0000abcd', kind: 'server', parentSpanId: null });
    expect(root?.startMs).toBe(1_700_000_000_001);
    expect(root?.durationMs).toBe(2.5);
    expect(child?.parentSpanId).toBe(hex(1, 16));
    expect(child?.attributes['lock.fence']).toBe(7);
  });

  it('refuses ids that are not hex, naming the field', () => {
    const bad = exportOf(1, [{ id: 1, name: 'x' }]);
    bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId = 'not-hex';
    const result = ExportTraceRequest.safeParse(bad);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.')).toBe('resourceSpans.0.scopeSpans.0.spans.0.traceId');
  });

  it('groups by trace, finds the trace that placed an order, and forgets the oldest trace past its bound', () => {
    const store = new TraceStore({ maxTraces: 2, maxSpansPerTrace: 2 });
    store.add(spansOf(ExportTraceRequest.parse(exportOf(1, [{ id: 1, name: 'POST /orders', orderId: 'o-1' }]))));
    // A later trace naming the same order (paying it) does not replace the one that placed it.
    store.add(spansOf(ExportTraceRequest.parse(exportOf(2, [{ id: 5, name: 'POST /orders/:id/pay', orderId: 'o-1' }]))));
    expect(store.traceOfOrder('o-1')).toBe(hex(1, 32));
    store.add(
      spansOf(
        ExportTraceRequest.parse(
          exportOf(2, [
            { id: 6, parent: 5, name: 'a' },
            { id: 7, parent: 5, name: 'b' },
          ]),
        ),
      ),
    );
    expect(store.trace(hex(2, 32))).toHaveLength(2);
    expect(store.dropped).toBe(1);
    store.add(spansOf(ExportTraceRequest.parse(exportOf(3, [{ id: 9, name: 'GET /products/:id' }]))));
    expect(store.trace(hex(1, 32))).toBeUndefined();
    expect(store.traceOfOrder('o-1')).toBeUndefined();
    expect(store.recent().map((t) => t.traceId)).toEqual([hex(3, 32), hex(2, 32)]);
    expect(store.recent({ around: 1_700_000_000_005, limit: 1 })[0]?.traceId).toBe(hex(2, 32));
    expect(store.summary(hex(2, 32))).toMatchObject({ name: 'order: POST /orders/:id/pay', services: ['order'], spans: 2 });
  });
});

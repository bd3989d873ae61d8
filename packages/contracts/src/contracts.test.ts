import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { eventSchemas, keys, PlaceOrderRequest, queueKey, queues, StorefrontEvent, UpdateProductRequest } from './index.js';

const issuePaths = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  r.error?.issues.map((i) => i.path.join('.')) ?? [];

describe('PlaceOrderRequest', () => {
  it('accepts a well-formed order', () => {
    expect(PlaceOrderRequest.safeParse({ items: [{ productId: 'sku-1', quantity: 2 }] }).success).toBe(true);
  });

  it.each([
    ['a zero quantity', { items: [{ productId: 'a', quantity: 0 }] }, 'items.0.quantity'],
    ['a negative quantity', { items: [{ productId: 'a', quantity: -1 }] }, 'items.0.quantity'],
    ['a fractional quantity', { items: [{ productId: 'a', quantity: 1.5 }] }, 'items.0.quantity'],
    ['a string quantity', { items: [{ productId: 'a', quantity: '1' }] }, 'items.0.quantity'],
    ['no items', { items: [] }, 'items'],
    ['an extra field', { items: [{ productId: 'a', quantity: 1 }], coupon: 'x' }, ''],
    ['a customerId (the customer is the token’s subject)', { customerId: 'c', items: [{ productId: 'a', quantity: 1 }] }, ''],
    ['a product id with a brace', { items: [{ productId: 'a}', quantity: 1 }] }, 'items.0.productId'],
    [
      'a duplicated product',
      {
        items: [
          { productId: 'a', quantity: 1 },
          { productId: 'a', quantity: 1 },
        ],
      },
      'items',
    ],
  ])('rejects %s and names the field', (_name, body, path) => {
    const r = PlaceOrderRequest.safeParse(body);
    expect(r.success).toBe(false);
    expect(issuePaths(r)).toContain(path);
  });

  it('rejects more than 50 items', () => {
    const items = Array.from({ length: 51 }, (_, i) => ({ productId: `p${i}`, quantity: 1 }));
    expect(issuePaths(PlaceOrderRequest.safeParse({ items }))).toContain('items');
  });
});

describe('UpdateProductRequest', () => {
  it('rejects an empty patch', () => {
    expect(UpdateProductRequest.safeParse({}).success).toBe(false);
  });
});

describe('events', () => {
  const placed = {
    id: randomUUID(),
    type: 'order.placed',
    version: 1,
    occurredAt: new Date().toISOString(),
    data: {
      orderId: randomUUID(),
      customerId: 'c-1',
      items: [{ productId: 'a', quantity: 1, unitPriceCents: 100 }],
      totalCents: 100,
    },
  };

  it('parses an event through the union by its type', () => {
    expect(StorefrontEvent.parse(placed).type).toBe('order.placed');
  });

  it('rejects an event whose data does not match its type', () => {
    expect(StorefrontEvent.safeParse({ ...placed, type: 'order.paid', data: { orderId: 'x' } }).success).toBe(false);
  });

  it('has a schema for every event type', () => {
    expect(Object.keys(eventSchemas).sort()).toEqual(StorefrontEvent.options.map((o) => o.shape.type.value).sort());
  });
});

describe('keys', () => {
  it('puts a stock lock and its fencing counter on one Cluster slot', () => {
    expect(calculateSlot(keys.catalog.stockLock('sku-9'))).toBe(calculateSlot(`${keys.catalog.stockLock('sku-9')}:fence`));
  });

  it('spreads different products over different slots', () => {
    const slots = new Set(['a', 'b', 'c', 'd'].map((id) => calculateSlot(keys.catalog.stockLock(id))));
    expect(slots.size).toBeGreaterThan(1);
  });

  it("keeps each queue's keys on one slot and puts the two queues on different shards of a 3-primary Cluster", () => {
    const slotOf = (queue: string) => {
      const slots = new Set(['meta', 'wait', 'delayed', 'id', '42'].map((suffix) => calculateSlot(queueKey(queue, suffix))));
      expect(slots.size).toBe(1);
      return [...slots][0]!;
    };
    // redis-cli --cluster create splits 16 384 slots evenly: 0-5460, 5461-10922, 10923-16383.
    const shard = (slot: number) => Math.min(Math.floor(slot / (16384 / 3)), 2);
    expect(shard(slotOf(queues.notifications))).not.toBe(shard(slotOf(queues.orderExpiry)));
  });
});

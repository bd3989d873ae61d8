import { jobIds } from '@storefront/contracts';
import type pg from 'pg';
import { queryRows } from '../stack.js';
import type { OrderRequest } from './load.js';

/** What the suite asks of the shop's data after every fault (DESIGN.md, "Failure behaviour"). */
export interface Consistency {
  /** Orders the clients saw a 201 for. */
  acknowledged: number;
  /** Acknowledged orders that are not in order's database (or differ from what was acknowledged). */
  lost: number;
  /** Idempotency-Keys that placed more than one order, and orders placed without a key record. */
  doubled: number;
  /** Σ over products of |stock taken − units in live (reserved or paid) orders|. */
  leakedUnits: number;
  /** Products whose stock is below zero. */
  negativeStock: number;
  /** Reservations catalog holds for no live order, plus live orders catalog holds nothing for. */
  orphanReservations: number;
  /** Placements still in flight (order intents); 0 once the sweeper's bound has passed. */
  openIntents: number;
  /** Orders whose notifications are not exactly one per event (placed, and expired or paid). */
  notificationErrors: number;
  /** Unpaid orders still `reserved` (0 once every payment deadline has passed). */
  unexpired: number;
  /** The first few violations, described (for reading a failure). */
  examples: string[];
  /** The notification job ids of the first few missing notifications (to look up in the queue after a failure). */
  missingNotificationJobs: string[];
}

/** The databases the checks read, as the stack's test databases give them. */
export interface ShopDatabases {
  catalog: string;
  order: string;
  notifier: string;
}

const query = <T extends pg.QueryResultRow>(url: string, sql: string) => queryRows<T>(url, sql);

/** Read all three databases and count every violation of the shop's promises. */
export const checkConsistency = async (
  dbs: ShopDatabases,
  requests: readonly OrderRequest[],
  initialStock: ReadonlyMap<string, number>,
): Promise<Consistency> => {
  const [orders, keyRows, intents, products, reservations, notifications] = await Promise.all([
    query<{ id: string; status: string; items: { productId: string; quantity: number }[] }>(
      dbs.order,
      'SELECT id, status, items FROM orders',
    ),
    query<{ key: string; order_id: string }>(dbs.order, 'SELECT key, order_id FROM idempotency_keys'),
    query<{ n: string }>(dbs.order, 'SELECT count(*) AS n FROM order_intents'),
    query<{ id: string; stock: number }>(dbs.catalog, 'SELECT id, stock FROM products'),
    query<{ order_id: string }>(dbs.catalog, "SELECT order_id FROM reservations WHERE status = 'reserved'"),
    query<{ order_id: string; kind: string; n: string }>(
      dbs.notifier,
      'SELECT order_id, kind, count(*) AS n FROM notifications WHERE order_id IS NOT NULL GROUP BY order_id, kind',
    ),
  ]);
  const byId = new Map(orders.map((o) => [o.id, o]));
  const live = orders.filter((o) => o.status === 'reserved' || o.status === 'paid');

  const acknowledged = requests.filter((r) => r.outcome === 'placed');
  const lost = acknowledged.filter((r) => {
    const stored = byId.get(r.orderIds[0]!);
    const same = (a: { productId: string; quantity: number }[]) => JSON.stringify(a.map((i) => [i.productId, i.quantity]).sort());
    return !stored || same(stored.items) !== same(r.items);
  }).length;

  const orderOfKey = new Map(keyRows.map((k) => [k.key, k.order_id]));
  const doubledKeys = acknowledged.filter(
    (r) => new Set(r.orderIds).size > 1 || (orderOfKey.has(r.key) && orderOfKey.get(r.key) !== r.orderIds[0]),
  ).length;
  const doubled = doubledKeys + Math.max(0, orders.length - keyRows.length);

  const taken = new Map<string, number>();
  for (const p of products) taken.set(p.id, (initialStock.get(p.id) ?? p.stock) - p.stock);
  const liveUnits = new Map<string, number>();
  for (const o of live) for (const i of o.items) liveUnits.set(i.productId, (liveUnits.get(i.productId) ?? 0) + i.quantity);
  let leakedUnits = 0;
  for (const p of products) leakedUnits += Math.abs((taken.get(p.id) ?? 0) - (liveUnits.get(p.id) ?? 0));

  const held = new Set(reservations.map((r) => r.order_id));
  const liveIds = new Set(live.map((o) => o.id));
  const orphanReservations =
    [...held].filter((id) => !liveIds.has(id)).length + [...liveIds].filter((id) => !held.has(id)).length;

  const examples: string[] = [];
  const missingNotificationJobs: string[] = [];
  const note = (text: string) => {
    if (examples.length < 5) examples.push(text);
  };
  const counts = new Map(notifications.map((n) => [`${n.order_id}/${n.kind}`, Number(n.n)]));
  let notificationErrors = 0;
  for (const o of orders) {
    const expected = [
      'order.placed',
      ...(o.status === 'expired' ? ['order.expired'] : []),
      ...(o.status === 'paid' ? ['order.paid'] : []),
    ];
    for (const kind of expected) {
      const n = counts.get(`${o.id}/${kind}`) ?? 0;
      if (n !== 1) {
        notificationErrors++;
        note(`order ${o.id} (${o.status}): ${n} × ${kind} notification`);
      }
    }
  }
  // What the outbox did with the events of the first orders named, for reading a failure.
  const named = [...new Set(examples.map((e) => /^order (\S+)/.exec(e)?.[1]).filter(Boolean))];
  if (named.length) {
    const rows = await queryRows<{
      order_id: string;
      type: string;
      created: string;
      published: string | null;
      attempts: number;
      last_error: string | null;
      event_id: string;
      customer_id: string;
    }>(
      dbs.order,
      `SELECT event->'data'->>'orderId' AS order_id, event->>'type' AS type, to_char(created_at, 'HH24:MI:SS.MS') AS created,
              event->>'id' AS event_id, event->'data'->>'customerId' AS customer_id,
              to_char(published_at, 'HH24:MI:SS.MS') AS published, attempts, last_error
         FROM outbox WHERE event->'data'->>'orderId' = ANY($1) ORDER BY id`,
      [named],
    );
    for (const [i, e] of examples.entries()) {
      const id = /^order (\S+)/.exec(e)?.[1];
      const trail = rows
        .filter((r) => r.order_id === id)
        .map(
          (r) =>
            `${r.type} written ${r.created}, published ${r.published ?? 'never'} after ${r.attempts} failed tries${r.last_error ? ` (${r.last_error.slice(0, 80)})` : ''}`,
        );
      if (trail.length) examples[i] = `${e} [outbox: ${trail.join('; ')}]`;
      // A missing notification: the job the relay wrote for it (jobIds.notification), to look up in the queue.
      const missing = /: 0 × (\S+) notification/.exec(e)?.[1];
      const event = rows.find((r) => r.order_id === id && r.type === missing);
      if (event) missingNotificationJobs.push(jobIds.notification(event.event_id, event.customer_id));
    }
  }
  // A notification for an order the order service does not have is wrong too.
  for (const n of notifications) {
    if (!byId.has(n.order_id)) {
      notificationErrors++;
      note(`notification ${n.kind} for unknown order ${n.order_id}`);
    }
  }

  return {
    acknowledged: acknowledged.length,
    lost,
    doubled,
    leakedUnits,
    negativeStock: products.filter((p) => p.stock < 0).length,
    orphanReservations,
    openIntents: Number(intents[0]?.n ?? 0),
    notificationErrors,
    unexpired: orders.filter((o) => o.status === 'reserved').length,
    examples,
    missingNotificationJobs,
  };
};

/** Whether every count that must reach zero has. */
export const isConsistent = (c: Consistency): boolean =>
  c.lost === 0 &&
  c.doubled === 0 &&
  c.leakedUnits === 0 &&
  c.negativeStock === 0 &&
  c.orphanReservations === 0 &&
  c.openIntents === 0 &&
  c.notificationErrors === 0 &&
  c.unexpired === 0;

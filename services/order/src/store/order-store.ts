import type { Order, OrderItem, OrderStatus, StorefrontEvent } from '@storefront/contracts';
import { appendToOutbox, outboxRow, prepared, withTransaction } from '@storefront/service-kit';
import type pg from 'pg';

interface OrderRow {
  id: string;
  customer_id: string;
  status: OrderStatus;
  items: OrderItem[];
  /** bigint: pg hands it over as text. */
  total_cents: string | number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, customer_id, status, items, total_cents, created_at, updated_at';

const toOrder = (row: OrderRow): Order => ({
  id: row.id,
  customerId: row.customer_id,
  status: row.status,
  items: row.items,
  totalCents: Number(row.total_cents),
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** The order an Idempotency-Key placed before, and the fingerprint of the request that placed it. */
type PriorOrder = { order: Order; fingerprint: string };
type PriorOrderRow = OrderRow & { fingerprint: string };

/** The SELECT of the order a customer's key placed, with the key's fingerprint; placeholders for customer and key. */
const priorOrderSql = (customer: string, key: string) =>
  `SELECT ${COLUMNS.split(', ')
    .map((c) => `o.${c}`)
    .join(', ')}, k.fingerprint
   FROM idempotency_keys k JOIN orders o ON o.id = k.order_id
   WHERE k.customer_id = ${customer} AND k.key = ${key}`;

// The two statements every placed order runs, prepared: parsed and planned once per connection (service-kit's `prepared`).

/** Record the intent unless the key placed an order before (then that order comes back). $1 order id, $2 customer, $3 key or null. */
const RECORD_INTENT = prepared(
  'order_record_intent',
  `WITH prior AS (${priorOrderSql('$2', '$3')}),
   intent AS (INSERT INTO order_intents (order_id, customer_id) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM prior))
   SELECT * FROM prior`,
);

/**
 * The order, its key and its event, in place of its intent. The intent goes with the order: gone already (the sweeper
 * released the stock), nothing is written. $1 id, $2 customer, $3 items, $4 total, $5 expiry, $6 key, $7 fingerprint,
 * $8–$9 the outbox row.
 */
const INSERT_ORDER = prepared(
  'order_insert',
  `WITH intent AS (DELETE FROM order_intents WHERE order_id = $1 RETURNING order_id),
   placed AS (
     INSERT INTO orders (id, customer_id, status, items, total_cents, expires_at)
     SELECT order_id, $2, 'reserved', $3, $4, $5 FROM intent
     RETURNING ${COLUMNS}
   ),
   key AS (
     INSERT INTO idempotency_keys (customer_id, key, fingerprint, order_id)
     SELECT customer_id, $6, $7, id FROM placed WHERE $6::text IS NOT NULL
   ),
   event AS (INSERT INTO outbox (event, trace_context) SELECT $8, $9 FROM placed)
   SELECT * FROM placed`,
);

const toPriorOrder = (row: PriorOrderRow): PriorOrder => ({ order: toOrder(row), fingerprint: row.fingerprint });

/** An Idempotency-Key and the fingerprint of the request that first used it. */
export interface IdempotencyRecord {
  key: string;
  fingerprint: string;
}

/**
 * The order's intent was resolved by the sweeper before the order could be written (this
 * placement outlived the worst case, e.g. its process was paused): its stock was given
 * back, so the order must not be written.
 */
export class IntentGoneError extends Error {
  override name = 'IntentGoneError';
  constructor(readonly orderId: string) {
    super(`order ${orderId} took too long: its reservation was released`);
  }
}

/** Orders in Postgres; every state change writes its event to the outbox in the same transaction. */
export class OrderStore {
  constructor(private readonly db: pg.Pool) {}

  async get(id: string): Promise<Order | undefined> {
    const { rows } = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
    return rows[0] && toOrder(rows[0]);
  }

  /**
   * Insert a reserved order, its `order.placed` event and (when given) its Idempotency-Key,
   * together: one statement, so one transaction and one round trip. Resolves `undefined` when
   * the key is already stored for another order (a concurrent duplicate that got past the
   * Redis claim); nothing is written then. Throws {@link IntentGoneError}, writing nothing,
   * when the sweeper resolved the order's intent first.
   */
  async insert(
    order: Order,
    expiresAt: Date,
    placed: (order: Order) => StorefrontEvent,
    idempotency?: IdempotencyRecord,
  ): Promise<Order | undefined> {
    try {
      const { rows } = await this.db.query<OrderRow>({
        ...INSERT_ORDER,
        values: [
          order.id,
          order.customerId,
          JSON.stringify(order.items),
          order.totalCents,
          expiresAt,
          idempotency?.key ?? null,
          idempotency?.fingerprint ?? null,
          ...outboxRow(placed(order)),
        ],
      });
      if (!rows[0]) throw new IntentGoneError(order.id);
      return toOrder(rows[0]);
    } catch (error) {
      // The key is taken (its primary key): the whole statement was undone.
      if ((error as { constraint?: string }).constraint === 'idempotency_keys_pkey') return undefined;
      throw error;
    }
  }

  /** The order placed earlier under this customer's Idempotency-Key, with the request's fingerprint. */
  async byIdempotencyKey(customerId: string, key: string): Promise<PriorOrder | undefined> {
    const { rows } = await this.db.query<PriorOrderRow>(priorOrderSql('$1', '$2'), [customerId, key]);
    return rows[0] && toPriorOrder(rows[0]);
  }

  /**
   * Record that `orderId` is being placed (from now on a reservation may exist for it) —
   * unless this customer's Idempotency-Key `key` placed an order before: then nothing is
   * recorded and that order comes back, with its request's fingerprint. One round trip.
   */
  async recordIntent(orderId: string, customerId: string, key?: string): Promise<PriorOrder | undefined> {
    const { rows } = await this.db.query<PriorOrderRow>({ ...RECORD_INTENT, values: [orderId, customerId, key ?? null] });
    return rows[0] && toPriorOrder(rows[0]);
  }

  /** The placement ended without a reservation to keep (refused, or released): forget the intent. */
  async dropIntent(orderId: string): Promise<void> {
    await this.db.query('DELETE FROM order_intents WHERE order_id = $1', [orderId]);
  }

  /**
   * Resolve intents older than `olderThanMs` (their placement died): for each, `release`
   * its reservation, then delete it. Each intent is locked while this happens, so a
   * placement that is still alive cannot commit its order in between (its transaction
   * waits, then finds the intent gone). An intent whose release fails stays for the next
   * run. Resolves with how many it resolved.
   */
  async resolveAbandonedIntents(
    olderThanMs: number,
    limit: number,
    release: (orderId: string) => Promise<void>,
  ): Promise<number> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<{ order_id: string }>(
        `SELECT order_id FROM order_intents WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [olderThanMs, limit],
      );
      let resolved = 0;
      for (const { order_id: orderId } of rows) {
        try {
          await release(orderId);
        } catch {
          continue; // catalog unreachable: try again next run
        }
        await client.query('DELETE FROM order_intents WHERE order_id = $1', [orderId]);
        resolved++;
      }
      return resolved;
    });
  }

  /** Ids of unpaid orders whose payment deadline has passed, oldest first. */
  async overdue(limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      "SELECT id FROM orders WHERE status = 'reserved' AND expires_at <= now() ORDER BY expires_at LIMIT $1",
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Move an order from one of `from` to `to` and record the event, atomically.
   * Resolves `undefined` when the order is not in an allowed state (or does not exist).
   */
  async transition(
    id: string,
    from: OrderStatus[],
    to: OrderStatus,
    event: (order: Order) => StorefrontEvent,
  ): Promise<Order | undefined> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<OrderRow>(
        `UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 AND status = ANY($3) RETURNING ${COLUMNS}`,
        [id, to, from],
      );
      if (!rows[0]) return undefined;
      const order = toOrder(rows[0]);
      await appendToOutbox(client, event(order));
      return order;
    });
  }
}

import type { Order, OrderItem, OrderStatus, StorefrontEvent } from '@storefront/contracts';
import { appendToOutbox, withTransaction } from '@storefront/service-kit';
import type pg from 'pg';

interface OrderRow {
  id: string;
  customer_id: string;
  status: OrderStatus;
  items: OrderItem[];
  total_cents: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, customer_id, status, items, total_cents, created_at, updated_at';

const toOrder = (row: OrderRow): Order => ({
  id: row.id,
  customerId: row.customer_id,
  status: row.status,
  items: row.items,
  totalCents: row.total_cents,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** Orders in Postgres; every state change writes its event to the outbox in the same transaction. */
export class OrderStore {
  constructor(private readonly db: pg.Pool) {}

  async get(id: string): Promise<Order | undefined> {
    const { rows } = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
    return rows[0] && toOrder(rows[0]);
  }

  /** Insert a reserved order and its `order.placed` event together. */
  async insert(order: Order, expiresAt: Date, placed: (order: Order) => StorefrontEvent): Promise<Order> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<OrderRow>(
        `INSERT INTO orders (id, customer_id, status, items, total_cents, expires_at) VALUES ($1, $2, 'reserved', $3, $4, $5)
         RETURNING ${COLUMNS}`,
        [order.id, order.customerId, JSON.stringify(order.items), order.totalCents, expiresAt],
      );
      const stored = toOrder(rows[0]!);
      await appendToOutbox(client, placed(stored));
      return stored;
    });
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

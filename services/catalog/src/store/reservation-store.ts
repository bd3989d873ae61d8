import type { OrderItem } from '@storefront/contracts';
import type pg from 'pg';

type Queryable = pg.Pool | pg.PoolClient;

/** A stored reservation: what catalog answered for an orderId, kept so a repeat gets the same answer. */
export type StoredReservation =
  | { orderId: string; status: 'reserved'; items: OrderItem[] }
  | { orderId: string; status: 'rejected'; productId: string }
  | { orderId: string; status: 'released'; items: OrderItem[] };

interface ReservationRow {
  order_id: string;
  status: 'reserved' | 'rejected' | 'released';
  items: OrderItem[];
  short_product_id: string | null;
}

const toReservation = (row: ReservationRow): StoredReservation =>
  row.status === 'rejected'
    ? { orderId: row.order_id, status: 'rejected', productId: row.short_product_id ?? '' }
    : { orderId: row.order_id, status: row.status, items: row.items };

/** Reservations in Postgres, one row per orderId. */
export class ReservationStore {
  constructor(private readonly db: pg.Pool) {}

  /** The reservation for `orderId`; `forUpdate` locks the row for the caller's transaction. */
  async find(orderId: string, client: Queryable = this.db, forUpdate = false): Promise<StoredReservation | undefined> {
    const { rows } = await client.query<ReservationRow>(
      `SELECT order_id, status, items, short_product_id FROM reservations WHERE order_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [orderId],
    );
    return rows[0] && toReservation(rows[0]);
  }

  async insertReserved(client: Queryable, orderId: string, items: OrderItem[]): Promise<void> {
    await client.query("INSERT INTO reservations (order_id, status, items) VALUES ($1, 'reserved', $2)", [
      orderId,
      JSON.stringify(items),
    ]);
  }

  /** Record a refusal, so a repeated orderId is refused the same way. */
  async insertRejected(client: Queryable, orderId: string, requested: unknown, productId: string): Promise<void> {
    await client.query("INSERT INTO reservations (order_id, status, items, short_product_id) VALUES ($1, 'rejected', $2, $3)", [
      orderId,
      JSON.stringify(requested),
      productId,
    ]);
  }

  /** Record a release of an orderId catalog has not seen (a tombstone); false when a row exists already. */
  async insertTombstone(orderId: string): Promise<boolean> {
    const result = await this.db.query(
      "INSERT INTO reservations (order_id, status, items) VALUES ($1, 'released', '[]') ON CONFLICT (order_id) DO NOTHING",
      [orderId],
    );
    return result.rowCount === 1;
  }

  async markReleased(client: Queryable, orderId: string): Promise<void> {
    await client.query("UPDATE reservations SET status = 'released', updated_at = now() WHERE order_id = $1", [orderId]);
  }
}

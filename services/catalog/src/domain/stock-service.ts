import { keys, type OrderItemInput, type Product, type ReservationRequest } from '@storefront/contracts';
import type { Lease, RedisLock } from '@storefront/redis-kit';
import { DependencyUnavailableError, NotFoundError, withTransaction } from '@storefront/service-kit';
import type pg from 'pg';
import type { CatalogService } from './catalog-service.js';
import type { ProductStore } from './product-store.js';

/** What a reservation answers; the same body is returned for a repeated orderId. */
export type ReservationResult =
  | { orderId: string; status: 'reserved'; items: { productId: string; quantity: number; unitPriceCents: number }[] }
  | { orderId: string; status: 'rejected'; shortProductId: string }
  | { orderId: string; status: 'released' };

interface ReservationRow {
  order_id: string;
  status: 'reserved' | 'rejected' | 'released';
  items: { productId: string; quantity: number; unitPriceCents: number }[];
  short_product_id: string | null;
}

const toResult = (row: ReservationRow): ReservationResult =>
  row.status === 'rejected'
    ? { orderId: row.order_id, status: 'rejected', shortProductId: row.short_product_id ?? '' }
    : row.status === 'released'
      ? { orderId: row.order_id, status: 'released' }
      : { orderId: row.order_id, status: 'reserved', items: row.items };

type Change = { before: Product; after: Product };

/**
 * Stock reservations. Every stock change runs under the redis-kit lock of each SKU it
 * touches (sorted, all-or-nothing), inside one Postgres transaction, and writes each row
 * only if its fencing token is the newest (`ProductStore.changeStockFenced`).
 *
 * Why a lock when a conditional `UPDATE … WHERE stock >= n` alone cannot oversell:
 * a reservation is a multi-SKU decision plus a reservation record, made by any of
 * several instances. The per-SKU locks serialise those decisions before they reach
 * Postgres (no row-lock pile-ups or deadlocks on a hot SKU), and the fence makes a
 * holder that stalled past its TTL harmless. docs/patterns/locks.md weighs the options.
 */
export class StockService {
  constructor(
    private readonly db: pg.Pool,
    private readonly products: ProductStore,
    private readonly lock: RedisLock,
    private readonly catalog: CatalogService,
  ) {}

  /** Reserve every item or none. A repeated orderId returns the first result. */
  async reserve({ orderId, items }: ReservationRequest): Promise<ReservationResult> {
    const existing = await this.#find(orderId);
    if (existing) return existing;
    const lockKeys = items.map((i) => keys.catalog.stockLock(i.productId));
    const { result, changes } = await this.lock.withLocks(lockKeys, (leases) =>
      withTransaction(this.db, async (client) => {
        const again = await this.#find(orderId, client);
        if (again) return { result: again, changes: [] };
        const sorted = [...items].sort((a, b) => a.productId.localeCompare(b.productId));
        const current = new Map<string, Product>();
        for (const item of sorted) {
          const product = await this.products.get(item.productId, client);
          if (!product) throw new NotFoundError(`Product ${item.productId}`, { extensions: { productId: item.productId } });
          current.set(item.productId, product);
        }
        const short = sorted.find((i) => (current.get(i.productId)?.stock ?? 0) < i.quantity);
        if (short) {
          await client.query(
            "INSERT INTO reservations (order_id, status, items, short_product_id) VALUES ($1, 'rejected', $2, $3)",
            [orderId, JSON.stringify(items), short.productId],
          );
          return { result: { orderId, status: 'rejected', shortProductId: short.productId } as const, changes: [] };
        }
        const changes = await this.#apply(client, sorted, -1, leases);
        const reserved = sorted.map((i) => ({ ...i, unitPriceCents: current.get(i.productId)?.priceCents ?? 0 }));
        await client.query("INSERT INTO reservations (order_id, status, items) VALUES ($1, 'reserved', $2)", [
          orderId,
          JSON.stringify(reserved),
        ]);
        return { result: { orderId, status: 'reserved', items: reserved } as const, changes };
      }),
    );
    await this.#announce(changes, 'reserved');
    return result;
  }

  /**
   * Give a reservation's stock back. Idempotent. Releasing an order catalog has not seen
   * records a `released` tombstone, so a reservation for it that arrives later (order gave
   * up waiting, its request was still queued here) is refused instead of taking stock
   * that no order will ever own.
   */
  async release(orderId: string): Promise<ReservationResult | undefined> {
    const tomb = await this.db.query(
      "INSERT INTO reservations (order_id, status, items) VALUES ($1, 'released', '[]') ON CONFLICT (order_id) DO NOTHING",
      [orderId],
    );
    if (tomb.rowCount === 1) return { orderId, status: 'released' };
    const existing = await this.#findRow(orderId);
    if (existing?.status !== 'reserved') return existing && toResult(existing);
    const lockKeys = existing.items.map((i) => keys.catalog.stockLock(i.productId));
    const { result, changes } = await this.lock.withLocks(lockKeys, (leases) =>
      withTransaction(this.db, async (client) => {
        const row = await this.#findRow(orderId, client, true);
        if (row?.status !== 'reserved') return { result: row && toResult(row), changes: [] };
        const changes = await this.#apply(client, row.items, +1, leases);
        await client.query("UPDATE reservations SET status = 'released', updated_at = now() WHERE order_id = $1", [orderId]);
        return { result: { orderId, status: 'released' } as const, changes };
      }),
    );
    await this.#announce(changes, 'released');
    return result;
  }

  /** Add stock (admin). */
  async restock(productId: string, quantity: number): Promise<Product> {
    const key = keys.catalog.stockLock(productId);
    const changes = await this.lock.withLocks([key], (leases) =>
      withTransaction(this.db, (client) => this.#apply(client, [{ productId, quantity }], +1, leases)),
    );
    await this.#announce(changes, 'restocked');
    return changes[0]!.after;
  }

  async #apply(
    client: pg.PoolClient,
    items: OrderItemInput[],
    sign: 1 | -1,
    leases: ReadonlyMap<string, Lease>,
  ): Promise<Change[]> {
    const changes: Change[] = [];
    for (const item of items) {
      const before = await this.products.get(item.productId, client);
      if (!before) throw new NotFoundError(`Product ${item.productId}`, { extensions: { productId: item.productId } });
      const fence = leases.get(keys.catalog.stockLock(item.productId))?.fence ?? 0;
      const after = await this.products.changeStockFenced(client, item.productId, sign * item.quantity, fence);
      // Refused: a newer lock holder wrote this row (our lease expired), or stock would go negative.
      if (!after) throw new DependencyUnavailableError('stock lock', { extensions: { productId: item.productId } });
      changes.push({ before, after });
    }
    return changes;
  }

  async #announce(changes: Change[], reason: 'reserved' | 'released' | 'restocked'): Promise<void> {
    await Promise.all(changes.map((c) => this.catalog.stockChanged(c.before, c.after, reason)));
  }

  async #find(orderId: string, client?: pg.PoolClient): Promise<ReservationResult | undefined> {
    const row = await this.#findRow(orderId, client);
    return row && toResult(row);
  }

  async #findRow(
    orderId: string,
    client: pg.Pool | pg.PoolClient = this.db,
    forUpdate = false,
  ): Promise<ReservationRow | undefined> {
    const { rows } = await client.query<ReservationRow>(
      `SELECT order_id, status, items, short_product_id FROM reservations WHERE order_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [orderId],
    );
    return rows[0];
  }
}

import { keys, type OrderItemInput, type Product, type ReservationRequest } from '@storefront/contracts';
import type { Lease, RedisLock } from '@storefront/redis-kit';
import { DependencyUnavailableError, NotFoundError, withTransaction } from '@storefront/service-kit';
import type pg from 'pg';
import type { ProductStore } from '../store/product-store.js';
import type { ReservationStore, StoredReservation } from '../store/reservation-store.js';
import type { CatalogService } from './catalog-service.js';

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
    private readonly reservations: ReservationStore,
    private readonly lock: RedisLock,
    private readonly catalog: CatalogService,
  ) {}

  /**
   * Reserve every item or none: `reserved` with each line at the price read under the
   * lock, or `rejected` naming the first short product. A repeated orderId returns the
   * first answer. An unknown product throws {@link NotFoundError} naming it, and nothing is stored.
   */
  async reserve({ orderId, items }: ReservationRequest): Promise<StoredReservation> {
    const existing = await this.reservations.find(orderId);
    if (existing) return existing;
    const lockKeys = items.map((i) => keys.catalog.stockLock(i.productId));
    const { result, changes } = await this.lock.withLocks(lockKeys, (leases) =>
      withTransaction(this.db, async (client) => {
        const again = await this.reservations.find(orderId, client);
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
          await this.reservations.insertRejected(client, orderId, items, short.productId);
          return { result: { orderId, status: 'rejected', productId: short.productId } as const, changes: [] };
        }
        const changes = await this.#apply(client, sorted, -1, leases);
        const reserved = sorted.map((i) => ({ ...i, unitPriceCents: current.get(i.productId)?.priceCents ?? 0 }));
        await this.reservations.insertReserved(client, orderId, reserved);
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
  async release(orderId: string): Promise<void> {
    if (await this.reservations.insertTombstone(orderId)) return;
    const existing = await this.reservations.find(orderId);
    if (existing?.status !== 'reserved') return;
    const lockKeys = existing.items.map((i) => keys.catalog.stockLock(i.productId));
    const changes = await this.lock.withLocks(lockKeys, (leases) =>
      withTransaction(this.db, async (client) => {
        const row = await this.reservations.find(orderId, client, true);
        if (row?.status !== 'reserved') return [];
        const changes = await this.#apply(client, row.items, +1, leases);
        await this.reservations.markReleased(client, orderId);
        return changes;
      }),
    );
    await this.#announce(changes, 'released');
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
}

import { keys, type OrderItemInput, type Product, type ReservationRequest } from '@storefront/contracts';
import { type Lease, LockTimeoutError, type RedisLock } from '@storefront/redis-kit';
import {
  DependencyUnavailableError,
  KeyedGroupCommit,
  NotFoundError,
  requestSpan,
  withTransaction,
} from '@storefront/service-kit';
import type pg from 'pg';
import type { Gauge, Histogram } from 'prom-client';
import type { ProductStore } from '../store/product-store.js';
import type { ReservationStore, StoredReservation } from '../store/reservation-store.js';
import type { CatalogService } from './catalog-service.js';

type Change = { before: Product; after: Product };
type Reserved = { result: StoredReservation; changes: Change[] };
/** A reservation waiting for a hold: its lines in lock order, and when it asked. */
type Sorted = { orderId: string; sorted: OrderItemInput[]; asked: number };
/** One reservation's outcome in a batch: its own result or its own error. */
type Outcome = { reserved: Reserved } | { error: unknown };

/** Most reservations one hold of a SKU set's locks carries (≈ 1–3 ms of Postgres each). */
const MAX_RESERVATIONS_PER_HOLD = 16;

/** A write refused because the lease's fence is older than the one the row holds. */
class StaleFenceError extends Error {
  constructor(
    readonly lockKey: string,
    readonly storedFence: number,
  ) {
    super(`fence behind the one stored for ${lockKey}`);
  }
}

/**
 * Stock reservations. Every stock change runs under the redis-kit lock of each SKU it
 * touches (sorted, all-or-nothing), inside one Postgres transaction (a reservation's common
 * case is one statement: `ProductStore.reserve`), and writes each row only if its fencing
 * token is the newest (`ProductStore.changeStockFenced`, and the same rule in `reserve`).
 *
 * Why a lock when a conditional `UPDATE … WHERE stock >= n` alone cannot oversell:
 * a reservation is a multi-SKU decision plus a reservation record, made by any of
 * several instances. The per-SKU locks serialise those decisions before they reach
 * Postgres (no row-lock pile-ups or deadlocks on a hot SKU), and the fence makes a
 * holder that stalled past its TTL harmless. docs/patterns/locks.md weighs the options.
 */
export class StockService {
  /** Reservations of one SKU set waiting in this process share the next hold of its locks. */
  readonly #holds = new KeyedGroupCommit<Sorted, Outcome>((lockKeys, batch) => this.#reserveUnderOneHold(lockKeys, batch), {
    maxBatch: MAX_RESERVATIONS_PER_HOLD,
  });

  constructor(
    private readonly db: pg.Pool,
    private readonly products: ProductStore,
    private readonly reservations: ReservationStore,
    private readonly lock: RedisLock,
    private readonly catalog: CatalogService,
    private readonly metrics?: {
      /** How many reservations each hold of the locks carried (`stock_reservations_per_lock_hold`). */
      perHold: Histogram;
      /** Reservations in this process waiting for or holding their locks (`stock_reservations_in_flight`). */
      inFlight: Gauge;
    },
  ) {}

  /**
   * Reserve every item or none: `reserved` with each line at the price read under the
   * lock, or `rejected` naming the first short product. A repeated orderId returns the
   * first answer. An unknown product throws {@link NotFoundError} naming it, and nothing is stored.
   */
  async reserve({ orderId, items }: ReservationRequest): Promise<StoredReservation> {
    requestSpan()?.setAttribute('order.id', orderId);
    // A repeated orderId is found under the locks (the fast path's statement fails on its
    // reservation row; the careful path looks first): no read before them on the common path.
    const sorted = [...items].sort((a, b) => a.productId.localeCompare(b.productId));
    const lockKeys = sorted.map((i) => keys.catalog.stockLock(i.productId));
    this.metrics?.inFlight.inc();
    let outcome: Outcome;
    try {
      outcome = await this.#holds.add(lockKeys.join('\n'), { orderId, sorted, asked: performance.now() });
    } finally {
      this.metrics?.inFlight.dec();
    }
    if ('error' in outcome) throw outcome.error;
    await this.#announce(outcome.reserved.changes, 'reserved');
    return outcome.reserved.result;
  }

  /**
   * Lock combining: the reservations of one SKU set that arrived while this process was
   * waiting for (or holding) its locks are made one after another under a single hold —
   * one acquire, one release and one hand-off for the lot instead of one each. On a hot SKU
   * the hand-off between holders (a Redis script, a message, a wake-up) took longer than the
   * reservation itself. Each reservation keeps its own answer or error; a stale fence
   * heals and runs again only the reservations not answered yet.
   */
  async #reserveUnderOneHold(joinedKeys: string, batch: Sorted[]): Promise<Outcome[]> {
    const outcomes: (Outcome | undefined)[] = batch.map(() => undefined);
    this.metrics?.perHold.observe(batch.length);
    // No reservation waits longer for the locks than the lock wait, counted from when it asked
    // (it may have waited for the hold before this one): past that it answers "busy" as before.
    const waitMs = this.lock.acquireTimeoutMs - (performance.now() - Math.min(...batch.map((b) => b.asked)));
    try {
      await this.#withFencedLocks(joinedKeys.split('\n'), waitMs, async (leases) => {
        for (const [i, { orderId, sorted }] of batch.entries()) {
          if (outcomes[i]) continue;
          try {
            const reserved =
              (await this.#reserveInStock(orderId, sorted, leases)) ?? (await this.#reserveCarefully(orderId, sorted, leases));
            outcomes[i] = { reserved };
          } catch (error) {
            if (error instanceof StaleFenceError) throw error;
            outcomes[i] = { error };
          }
        }
      });
    } catch (error) {
      // The locks could not be had (busy, Redis away): every reservation not made gets it.
      return outcomes.map((o) => o ?? { error });
    }
    return outcomes.map((o) => o!);
  }

  /**
   * The common case, kept short because it runs while the SKUs are locked: one statement
   * takes every line (in stock, our fences current) and records the reservation — one round
   * trip, whatever the number of lines. `undefined`, with nothing written, when a line is
   * unknown, short or fenced out: {@link reserveCarefully} then says which.
   */
  async #reserveInStock(
    orderId: string,
    sorted: OrderItemInput[],
    leases: ReadonlyMap<string, Lease>,
  ): Promise<Reserved | undefined> {
    const fence = (productId: string) => leases.get(keys.catalog.stockLock(productId))?.fence ?? 0;
    const done = await this.products.reserve(
      orderId,
      sorted.map((i) => ({ ...i, fence: fence(i.productId) })),
    );
    if (done.outcome === 'not_all_taken') return undefined;
    // A repeat of this orderId, or its release, was recorded while we waited for the locks.
    if (done.outcome === 'recorded_before') return { result: (await this.reservations.find(orderId))!, changes: [] };
    const after = new Map(done.taken.map((p) => [p.id, p]));
    const reserved = sorted.map((i) => ({ ...i, unitPriceCents: after.get(i.productId)!.priceCents }));
    const changes = sorted.map((i) => {
      const now = after.get(i.productId)!;
      return { before: { ...now, stock: now.stock + i.quantity, version: now.version - 1 }, after: now };
    });
    return { result: { orderId, status: 'reserved', items: reserved }, changes };
  }

  /** Line by line, to tell an unknown product, a short one (recorded as a refusal) and a stale fence apart. */
  #reserveCarefully(orderId: string, sorted: OrderItemInput[], leases: ReadonlyMap<string, Lease>): Promise<Reserved> {
    return withTransaction(this.db, async (client) => {
      const again = await this.reservations.find(orderId, client);
      if (again) return { result: again, changes: [] };
      const current = new Map<string, Product>();
      for (const item of sorted) {
        const product = await this.products.get(item.productId, client);
        if (!product) throw new NotFoundError(`Product ${item.productId}`, { extensions: { productId: item.productId } });
        current.set(item.productId, product);
      }
      const short = sorted.find((i) => (current.get(i.productId)?.stock ?? 0) < i.quantity);
      if (short) {
        await this.reservations.insertRejected(client, orderId, sorted, short.productId);
        return { result: { orderId, status: 'rejected', productId: short.productId } as const, changes: [] };
      }
      const changes = await this.#apply(client, sorted, -1, leases);
      const reserved = sorted.map((i) => ({ ...i, unitPriceCents: current.get(i.productId)?.priceCents ?? 0 }));
      await this.reservations.insertReserved(client, orderId, reserved);
      return { result: { orderId, status: 'reserved', items: reserved } as const, changes };
    });
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
    const changes = await this.#withFencedLocks(lockKeys, undefined, (leases) =>
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
    const changes = await this.#withFencedLocks([key], undefined, (leases) =>
      withTransaction(this.db, (client) => this.#apply(client, [{ productId, quantity }], +1, leases)),
    );
    await this.#announce(changes, 'restocked');
    return changes[0]!.after;
  }

  /**
   * Run `work` under the locks of `lockKeys`, waiting at most `waitMs` for them in all (heals
   * included; `undefined`: each key its lock wait). If a write is refused because the row holds a
   * newer fence than our lease, move the fencing counter past it and run again under fresh
   * leases — once per key at most, since each run heals the key it was refused on (an order
   * for several SKUs may find several counters behind). That heals counters Redis lost (an
   * empty restart, a failover before replication): without it every lease would be refused
   * until the counter crawled back past the fence Postgres holds. A newer holder that really
   * did write meanwhile is also handled: we re-read everything under the new locks. Still
   * refused after that (others keep moving the fence): a 503 "busy", never a 500.
   */
  async #withFencedLocks<T>(
    lockKeys: string[],
    waitMs: number | undefined,
    work: (leases: ReadonlyMap<string, Lease>) => Promise<T>,
  ): Promise<T> {
    const deadline = waitMs === undefined ? undefined : performance.now() + waitMs;
    try {
      for (let heals = 0; ; heals++) {
        try {
          return await this.lock.withLocks(lockKeys, work, {
            timeoutMs: deadline === undefined ? undefined : deadline - performance.now(),
          });
        } catch (error) {
          if (!(error instanceof StaleFenceError)) throw error;
          if (heals >= lockKeys.length) {
            throw new DependencyUnavailableError('stock lock', { cause: error, extensions: { reason: 'busy' } });
          }
          await this.lock.raiseFence(error.lockKey, error.storedFence);
        }
      }
    } catch (error) {
      // The SKU is busy (or its holder stalled) past our lock wait: nothing was written;
      // the caller may retry. A definite "not now", not a fault of this instance.
      if (error instanceof LockTimeoutError) {
        throw new DependencyUnavailableError('stock lock', { cause: error, extensions: { reason: 'busy' } });
      }
      throw error;
    }
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
      const lockKey = keys.catalog.stockLock(item.productId);
      const fence = leases.get(lockKey)?.fence ?? 0;
      const after = await this.products.changeStockFenced(client, item.productId, sign * item.quantity, fence);
      if (!after) {
        // Refused: the row holds a newer fence (our lease expired and another holder wrote, or
        // Redis lost the counter), or stock would go negative.
        const stored = await this.products.fence(client, item.productId);
        if (stored > fence) throw new StaleFenceError(lockKey, stored);
        throw new DependencyUnavailableError('stock lock', { extensions: { productId: item.productId } });
      }
      changes.push({ before, after });
    }
    return changes;
  }

  async #announce(changes: Change[], reason: 'reserved' | 'released' | 'restocked'): Promise<void> {
    await Promise.all(changes.map((c) => this.catalog.stockChanged(c.before, c.after, reason)));
  }
}

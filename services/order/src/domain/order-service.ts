import { randomUUID } from 'node:crypto';
import { type CustomerId, newEvent, type Order, type PlaceOrderRequest } from '@storefront/contracts';
import { ConflictError, NotFoundError, requestSpan } from '@storefront/service-kit';
import type { CatalogClient } from '../clients/catalog-client.js';
import { type IdempotencyRecord, IntentGoneError, type OrderStore } from '../store/order-store.js';

/** What placing an order came to. The HTTP route turns it into an answer. */
export type PlaceOutcome =
  /** `replayed`: the Idempotency-Key had placed this order before (found in Postgres). */
  | { outcome: 'placed'; order: Order; replayed: boolean }
  | { outcome: 'insufficient_stock'; productId: string }
  | { outcome: 'unknown_product'; productId: string }
  /** A product's stock lock was held too long by other orders: nothing was reserved. */
  | { outcome: 'busy' }
  /** The Idempotency-Key placed an order before, for a different request. */
  | { outcome: 'key_reused' }
  /** This placement outlived the worst case (its process stalled): its stock was given back, no order. */
  | { outcome: 'too_slow' };

/** An order to place: what the customer asked for, and who asked (the bearer token's subject). */
export type NewOrder = PlaceOrderRequest & { customerId: CustomerId };

/** The order rules: reserve, store with its outbox event; pay; cancel; expire. */
export class OrderService {
  constructor(
    private readonly orders: OrderStore,
    private readonly catalog: CatalogClient,
    private readonly paymentTimeoutMs: number,
    /** Nudged after each commit so the outbox relay runs now rather than at its next poll. */
    private readonly onOutboxWrite: () => void = () => {},
  ) {}

  /**
   * Place an order: one call to catalog reserves every item (at catalog's current prices)
   * or answers which product is short or unknown; then the order, its `order.placed`
   * event and its Idempotency-Key are written in one transaction.
   *
   * The key's record of truth is that row: a key that placed an order before replays it,
   * even when Redis (the fast path in front of this) lost its record — a failover, an
   * empty restart, or a crash between this commit and the Redis write.
   */
  async place(request: NewOrder, idempotency?: IdempotencyRecord): Promise<PlaceOutcome> {
    const orderId = randomUUID();
    // From here a reservation may exist for orderId: the intent row says so until the
    // order is written, so a placement that dies half-way is undone by the sweeper. The
    // same statement answers whether the key placed an order before (then nothing is recorded).
    const prior = await this.orders.recordIntent(orderId, request.customerId, idempotency?.key);
    if (prior && idempotency) return this.#replay(prior, idempotency);
    // The trace viewer finds an order's trace by it (and the catalog call, the outbox relay and the job inherit the trace).
    requestSpan()?.setAttributes({ 'order.id': orderId, 'customer.id': request.customerId });
    let reservation: Awaited<ReturnType<CatalogClient['reserve']>>;
    try {
      reservation = await this.catalog.reserve(orderId, request.items);
    } catch (error) {
      // The outcome is unknown (timeout, catalog gone mid-request): release the orderId.
      // Catalog keeps a tombstone for an unknown orderId, so a reservation still queued
      // there is refused when it runs, instead of taking stock no order owns.
      await this.#giveBack(orderId);
      throw error;
    }
    if (reservation.status !== 'reserved') {
      // A definite refusal: nothing was reserved.
      await this.orders.dropIntent(orderId);
      if (reservation.status === 'busy') return { outcome: 'busy' };
      return { outcome: reservation.status, productId: reservation.productId };
    }
    const { items } = reservation;
    const now = new Date().toISOString();
    const draft: Order = {
      id: orderId,
      customerId: request.customerId,
      status: 'reserved',
      items,
      totalCents: items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0),
      createdAt: now,
      updatedAt: now,
    };
    let order: Order | undefined;
    try {
      order = await this.orders.insert(
        draft,
        new Date(Date.now() + this.paymentTimeoutMs),
        (o) => newEvent('order.placed', { orderId: o.id, customerId: o.customerId, items: o.items, totalCents: o.totalCents }),
        idempotency,
      );
    } catch (error) {
      if (error instanceof IntentGoneError) return { outcome: 'too_slow' };
      // Nothing was acknowledged: give the stock back (idempotent), then fail.
      await this.#giveBack(orderId);
      throw error;
    }
    if (!order) {
      // A request with the same key committed first (both got past the Redis claim): ours
      // is the duplicate. Give its stock back and answer with the first order.
      await this.#giveBack(orderId);
      const first = idempotency && (await this.#placedBefore(request.customerId, idempotency));
      if (!first) throw new Error(`Idempotency-Key of order ${orderId} is taken, but no order holds it`);
      return first;
    }
    this.onOutboxWrite();
    return { outcome: 'placed', order, replayed: false };
  }

  /**
   * Release a reservation this placement will not keep, then forget its intent. When
   * catalog cannot be reached, the intent stays and the sweeper releases it later.
   */
  async #giveBack(orderId: string): Promise<void> {
    try {
      await this.catalog.release(orderId);
      await this.orders.dropIntent(orderId);
    } catch {
      // left to releaseAbandoned()
    }
  }

  /**
   * Release the reservations of placements that died between reserving and writing their
   * order (an instance killed or stalled), once they are older than `olderThanMs` — longer
   * than placing an order can take, so no live placement is undone. Resolves with how many.
   */
  releaseAbandoned(olderThanMs: number): Promise<number> {
    return this.orders.resolveAbandonedIntents(olderThanMs, 100, (orderId) => this.catalog.release(orderId));
  }

  async #placedBefore(customerId: string, idempotency: IdempotencyRecord): Promise<PlaceOutcome | undefined> {
    const prior = await this.orders.byIdempotencyKey(customerId, idempotency.key);
    return prior && this.#replay(prior, idempotency);
  }

  /** The answer for a key that placed `prior` before: that order again, or a refusal for another payload. */
  #replay(prior: { order: Order; fingerprint: string }, { fingerprint }: IdempotencyRecord): PlaceOutcome {
    return prior.fingerprint === fingerprint
      ? { outcome: 'placed', order: prior.order, replayed: true }
      : { outcome: 'key_reused' };
  }

  async get(id: string): Promise<Order> {
    const order = await this.orders.get(id);
    if (!order) throw new NotFoundError(`Order ${id}`);
    return order;
  }

  async pay(id: string): Promise<Order> {
    return this.#transition(id, ['reserved'], 'paid', (o) => newEvent('order.paid', { orderId: o.id, customerId: o.customerId }));
  }

  /** Cancel a reserved order; the relay releases its stock when it handles `order.cancelled`. */
  async cancel(id: string): Promise<Order> {
    return this.#transition(id, ['reserved'], 'cancelled', (o) =>
      newEvent('order.cancelled', { orderId: o.id, customerId: o.customerId }),
    );
  }

  /** Expire an unpaid order (from the delayed job). `undefined` when it was paid or cancelled meanwhile. */
  async expire(id: string): Promise<Order | undefined> {
    const order = await this.orders.transition(id, ['reserved'], 'expired', (o) =>
      newEvent('order.expired', { orderId: o.id, customerId: o.customerId }),
    );
    if (order) this.onOutboxWrite();
    return order;
  }

  /**
   * Expire every unpaid order past its deadline, whatever happened to its delayed job
   * (Redis lost it in a failover or an empty restart; it never got enqueued). Postgres
   * decides; the delayed job is only the fast path. Safe in several instances at once:
   * each expiry is a conditional update. Resolves with how many it expired.
   */
  async expireOverdue(limit = 100): Promise<number> {
    let expired = 0;
    for (const id of await this.orders.overdue(limit)) if (await this.expire(id)) expired++;
    return expired;
  }

  async #transition(
    id: string,
    from: Order['status'][],
    to: Order['status'],
    event: Parameters<OrderStore['transition']>[3],
  ): Promise<Order> {
    const order = await this.orders.transition(id, from, to, event);
    if (!order) {
      const current = await this.get(id);
      throw new ConflictError(`Order ${id} is ${current.status}; it cannot become ${to}`);
    }
    this.onOutboxWrite();
    return order;
  }
}

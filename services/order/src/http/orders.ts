import { keys, type Order, OrderId, PlaceOrderRequest } from '@storefront/contracts';
import {
  fingerprint,
  IdempotencyInFlightError,
  IdempotencyMismatchError,
  type IdempotencyStore,
  type StoredResponse,
} from '@storefront/redis-kit';
import { type CustomerLimits, spendForCustomer } from '@storefront/service-defaults';
import {
  AppError,
  type AuthGuards,
  ConflictError,
  DependencyUnavailableError,
  NotFoundError,
  type Principal,
  parseOrThrow,
  principalOf,
  toProblem,
  ValidationError,
} from '@storefront/service-kit';
import { type Response, Router } from 'express';
import { z } from 'zod';
import type { OrderService, PlaceOutcome } from '../domain/order-service.js';

const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be 8-128 letters, digits, "-" or "_"');

/** 422: the Idempotency-Key placed something else before (seen in Redis or in Postgres). */
const keyReused = () =>
  new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request payload');

/**
 * The HTTP answer to a placing outcome, stored for idempotent replay. Insufficient stock
 * is an answer (409) and is replayed; an unknown product is the request's fault (400 on
 * `items.N.productId`) and is thrown, which frees the key for a corrected retry.
 */
const toResponse = (result: PlaceOutcome, items: { productId: string }[]): StoredResponse => {
  switch (result.outcome) {
    case 'placed':
      return { status: 201, body: result.order };
    case 'insufficient_stock': {
      const conflict = new ConflictError(`Not enough stock for ${result.productId}`, 'insufficient_stock', {
        extensions: { productId: result.productId },
      });
      return { status: 409, body: toProblem(conflict) };
    }
    case 'unknown_product': {
      const index = items.findIndex((i) => i.productId === result.productId);
      throw new ValidationError([{ path: `body.items.${index}.productId`, message: `unknown product ${result.productId}` }]);
    }
    case 'busy':
      // Thrown, not stored: a retry with the same key should try again.
      throw new DependencyUnavailableError('catalog', { extensions: { reason: 'busy' } });
    case 'too_slow':
      throw new DependencyUnavailableError('order', { extensions: { reason: 'placement timed out; nothing was ordered' } });
    case 'key_reused':
      throw keyReused();
  }
};

/**
 * An order the caller may see: their own, or any for an admin. Someone else's order is a
 * 404 like one that does not exist, so ids cannot be probed.
 */
const ownedOrder = async (orders: OrderService, res: Response, rawId: string | undefined): Promise<Order> => {
  const id = parseOrThrow(OrderId, rawId, 'params.id');
  const principal: Principal = principalOf(res);
  const order = await orders.get(id);
  if (order.customerId !== principal.subject && !principal.admin) throw new NotFoundError(`Order ${id}`);
  return order;
};

/**
 * `/orders`: place (idempotent, rate-limited), read, pay, cancel — each for the customer
 * the bearer token names (`guards.customer`); another customer's order answers 404.
 */
export const orderRoutes = (
  orders: OrderService,
  idempotency: IdempotencyStore,
  limits: CustomerLimits,
  guards: Pick<AuthGuards, 'customer'>,
): Router => {
  const router = Router();
  router.use('/orders', guards.customer);

  router.post('/orders', async (req, res) => {
    const header = req.get('idempotency-key');
    if (header === undefined) {
      throw new ValidationError([{ path: 'header.idempotency-key', message: 'is required' }]);
    }
    const key = parseOrThrow(IdempotencyKey, header, 'header.idempotency-key');
    const body = parseOrThrow(PlaceOrderRequest, req.body, 'body');
    const customerId = principalOf(res).subject;

    let outcome: Awaited<ReturnType<IdempotencyStore['execute']>>;
    try {
      const fp = fingerprint(body);
      // The claim comes first: a replay costs no rate-limit point, and while Redis cannot
      // answer, the request fails once (503) instead of waiting on more Redis calls.
      outcome = await idempotency.execute(keys.order.idempotency(customerId, key), fp, async () => {
        await spendForCustomer(limits, customerId, req, 'orders');
        const placed = await orders.place({ customerId, items: body.items }, { key, fingerprint: fp });
        // Redis had no record, Postgres had: the key placed this order before.
        if (placed.outcome === 'placed' && placed.replayed) res.setHeader('idempotent-replayed', 'true');
        return toResponse(placed, body.items);
      });
    } catch (error) {
      if (error instanceof IdempotencyMismatchError) throw keyReused();
      if (error instanceof IdempotencyInFlightError)
        throw new ConflictError(error.message, 'request_in_flight', { retryAfterSeconds: 1 });
      throw error;
    }
    const { response, replayed } = outcome;
    if (replayed) res.setHeader('idempotent-replayed', 'true');
    // Stored as text: the replay must answer byte for byte what the first request answered.
    res.type(response.status >= 400 ? 'application/problem+json' : 'application/json');
    res.status(response.status).send(JSON.stringify(response.body));
  });

  router.get('/orders/:id', async (req, res) => {
    res.json(await ownedOrder(orders, res, req.params.id));
  });

  router.post('/orders/:id/pay', async (req, res) => {
    const { id } = await ownedOrder(orders, res, req.params.id);
    res.json(await orders.pay(id));
  });

  router.post('/orders/:id/cancel', async (req, res) => {
    const { id } = await ownedOrder(orders, res, req.params.id);
    res.json(await orders.cancel(id));
  });

  return router;
};

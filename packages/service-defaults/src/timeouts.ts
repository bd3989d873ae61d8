import { envFields } from '@storefront/service-kit';
import type { z } from 'zod';

/**
 * The timeouts of the order path, in one place, because they must nest:
 *
 *   STOCK_LOCK_WAIT  <  RESERVATION_TIMEOUT,   worst case of placing an order  <  IDEMPOTENCY_IN_FLIGHT_TTL
 *
 * - Catalog gives up waiting for a stock lock after STOCK_LOCK_WAIT and answers 503.
 * - Order waits RESERVATION_TIMEOUT for catalog's answer. Longer than the lock wait, so
 *   catalog answers definitely instead of order abandoning a request that may still succeed.
 * - `POST /orders` holds its Idempotency-Key claim for IDEMPOTENCY_IN_FLIGHT_TTL. Longer than
 *   the worst case of placing an order, so a retry can never run the same request twice.
 *
 * Catalog reads STOCK_LOCK_WAIT; order reads all three (it needs catalog's lock wait to
 * check its own timeout against). Deployments set them once for both (.env, compose).
 */
export const timeoutEnv = {
  /** How long catalog waits for a stock lock before answering 503. Default 10s. */
  STOCK_LOCK_WAIT: envFields.duration.default(10_000),
  /** How long order waits for catalog to answer a reservation or a release. Default 15s. */
  RESERVATION_TIMEOUT: envFields.duration.default(15_000),
  /** How long an Idempotency-Key claim lives while its first request runs. Default 60s. */
  IDEMPOTENCY_IN_FLIGHT_TTL: envFields.duration.default(60_000),
};

/** What placing an order may spend in Postgres (pool connect timeout plus the order's transaction). */
export const DATABASE_BUDGET_MS = 5_000;

type Timeouts = { STOCK_LOCK_WAIT: number; RESERVATION_TIMEOUT: number; IDEMPOTENCY_IN_FLIGHT_TTL: number };

/**
 * The longest `POST /orders` can run: a reservation that times out, the release of its
 * unknown outcome (same timeout), and the database.
 */
export const placeWorstCaseMs = (t: Pick<Timeouts, 'RESERVATION_TIMEOUT'>): number =>
  2 * t.RESERVATION_TIMEOUT + DATABASE_BUDGET_MS;

/** A zod `superRefine` that rejects timeouts that do not nest, naming the variables. */
export const checkTimeouts = (t: Timeouts, ctx: z.RefinementCtx): void => {
  if (t.RESERVATION_TIMEOUT <= t.STOCK_LOCK_WAIT) {
    ctx.addIssue({
      code: 'custom',
      path: ['RESERVATION_TIMEOUT'],
      message: `must be longer than STOCK_LOCK_WAIT (${t.RESERVATION_TIMEOUT} ms <= ${t.STOCK_LOCK_WAIT} ms)`,
    });
  }
  const worst = placeWorstCaseMs(t);
  if (t.IDEMPOTENCY_IN_FLIGHT_TTL <= worst) {
    ctx.addIssue({
      code: 'custom',
      path: ['IDEMPOTENCY_IN_FLIGHT_TTL'],
      message: `must be longer than placing an order can take: 2 × RESERVATION_TIMEOUT + ${DATABASE_BUDGET_MS} ms = ${worst} ms`,
    });
  }
};

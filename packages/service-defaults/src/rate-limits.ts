import type { RateLimiter } from '@storefront/redis-kit';
import { AppError } from '@storefront/service-kit';
import type { Request, RequestHandler, Response } from 'express';

/**
 * Spend one of `key`'s points on `limiter`, or refuse: 429 `rate_limited` with `Retry-After`
 * (the window's reset, at least 1 s). `what` names what was limited in the problem's detail.
 */
export const spendOrRefuse = async (limiter: RateLimiter, key: string, what: string): Promise<void> => {
  const decision = await limiter.consume(key);
  if (!decision.allowed) {
    throw new AppError(429, 'rate_limited', `Too many ${what}`, {
      retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
    });
  }
};

/**
 * The client's address: the socket's peer, or — only when `TRUST_PROXY` says which proxies
 * to believe — the address they forwarded. Never a header a client could set to dodge a limit.
 */
export const clientAddress = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** Middleware: spend a point of the key `keyOf` picks (default: the client's address) before the route runs. */
export const rateLimit =
  (limiter: RateLimiter, what: string, keyOf: (req: Request, res: Response) => string = clientAddress): RequestHandler =>
  async (req, res, next) => {
    await spendOrRefuse(limiter, keyOf(req, res), what);
    next();
  };

/** The two limits on what a customer does: per customer (the token's subject) and per client address. */
export interface CustomerLimits {
  perCustomer: RateLimiter;
  perAddress: RateLimiter;
}

/**
 * Spend a point of both limits, or refuse with 429 naming the one that refused (the
 * customer's first). Both are spent on every attempt, a refused one included, so made-up
 * customer ids from one address still meet the address limit. `what` names it (`orders`,
 * `watches`). The two are asked at once: one round trip to Redis instead of two in a row.
 */
export const spendForCustomer = async (limits: CustomerLimits, customerId: string, req: Request, what: string) => {
  const [customer, address] = await Promise.allSettled([
    spendOrRefuse(limits.perCustomer, customerId, `${what} for customer ${customerId}`),
    spendOrRefuse(limits.perAddress, clientAddress(req), `${what} from this address`),
  ]);
  if (customer.status === 'rejected') throw customer.reason;
  if (address.status === 'rejected') throw address.reason;
};

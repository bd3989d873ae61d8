import type { Request, RequestHandler, Response } from 'express';

/** Work to do once a request's response is over: `elapsedMs` since the request reached the stack. */
export type ResponseObserver = (req: Request, res: Response, elapsedMs: number) => void;

const STARTED = Symbol('storefront.started');

/**
 * What the stack keeps about a request while it runs, under its own symbols: `res.locals`,
 * the dictionary Express makes for each request. Not new properties of `req` or `res`: V8
 * gives each such property a copy of the object's property store — ≈ 1.5 KB of garbage per
 * property per request in the HTTP stack's allocation profile (docs/benchmarks.md).
 */
export const requestState = (res: Response): Record<symbol, unknown> => res.locals as Record<symbol, unknown>;

/**
 * Time every request and, once its response is over, run each observer (the request log,
 * the HTTP histogram) in order. Node emits `close` on every response, after `finish` when
 * it was sent and alone when the client went away (`res.writableFinished` tells which).
 *
 * Each response gets one listener, and it is the same function for every response (it
 * finds the response as `this` and the request as `res.req`): no closure, `once` wrapper or
 * callback list per request and observer. (Measured, that alone did not make the stack
 * faster — docs/benchmarks.md, "The HTTP stack" — but it is the least per-request work
 * and one place where what happens after a response is listed.)
 */
export const observeResponses = (...observers: ResponseObserver[]): RequestHandler => {
  function over(this: Response): void {
    const elapsed = performance.now() - (requestState(this)[STARTED] as number);
    const req = this.req as Request;
    for (const observe of observers) observe(req, this, elapsed);
  }
  return (_req, res, next) => {
    requestState(res)[STARTED] = performance.now();
    res.on('close', over);
    next();
  };
};

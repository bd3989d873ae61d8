import type { Request, RequestHandler, Response } from 'express';

/** Work to do once a request's response is over: `elapsedMs` since the request reached the stack. */
export type ResponseObserver = (req: Request, res: Response, elapsedMs: number) => void;

const STARTED = Symbol('storefront.started');
type Timed = Response & { [STARTED]: number };

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
  function over(this: Timed): void {
    const elapsed = performance.now() - this[STARTED];
    const req = this.req as Request;
    for (const observe of observers) observe(req, this, elapsed);
  }
  return (_req, res, next) => {
    (res as Timed)[STARTED] = performance.now();
    res.on('close', over);
    next();
  };
};

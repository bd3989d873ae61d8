import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/** Whether any option is a function (a CSP directive computed per request, e.g. a nonce). */
const perRequest = (options: HelmetOptions | undefined) => {
  let found = false;
  JSON.stringify(options ?? {}, (_key, value: unknown) => {
    if (typeof value === 'function') found = true;
    return value;
  });
  return found;
};

/**
 * helmet's security headers, worked out once. helmet runs a dozen small middlewares per
 * request that each set the same constant header; here helmet runs once at start-up against
 * a recording response, and each request gets the recorded headers in one loop — the same
 * headers (http-app.test.ts compares them with helmet's own), a fraction of the calls.
 * Options with a function (a value computed per request) keep helmet per request.
 */
export const securityHeaders = (options?: HelmetOptions): RequestHandler => {
  const middleware = helmet(options);
  if (perRequest(options)) return middleware;
  const headers: [string, string][] = [];
  let synchronous = false;
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  middleware({} as never, recorder as never, () => {
    synchronous = true;
  });
  if (!synchronous) return middleware;
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
};

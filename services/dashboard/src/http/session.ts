import { type AuthGuards, ForbiddenError, principalOf, ValidationError } from '@storefront/service-kit';
import { parseCookie } from 'cookie';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';

/** The session cookie: the signed-in user's own token, HttpOnly and SameSite=Strict. */
export const SESSION_COOKIE = 'storefront_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser's session rides in the cookie; the guards read `Authorization`. A request
 * without an `Authorization` header but with the cookie is authenticated by the cookie's
 * token (and marked, so the cross-site check below applies to it).
 */
export const sessionFromCookie: RequestHandler = (req, res, next) => {
  if (!req.headers.authorization && req.headers.cookie) {
    const token = parseCookie(req.headers.cookie)[SESSION_COOKIE];
    if (token) {
      req.headers.authorization = `Bearer ${token}`;
      res.locals.viaCookie = true;
    }
  }
  next();
};

/**
 * Cross-site request forgery: a state-changing request must come from this origin.
 * Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`); one that says
 * another site is refused (403) whatever it carries. A request with neither header is not
 * from a browser and may pass — unless the session cookie authenticated it, because a
 * cookie is exactly what a forged request would borrow. SameSite=Strict on the cookie is
 * the second layer.
 */
export const refuseCrossSite: RequestHandler = (req, res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const site = req.get('sec-fetch-site');
  const origin = req.get('origin');
  const sameOrigin =
    site !== undefined
      ? site === 'same-origin' || site === 'none'
      : origin !== undefined
        ? hostOf(origin) === req.get('host')
        : undefined;
  if (sameOrigin === false || (sameOrigin === undefined && res.locals.viaCookie === true)) {
    throw new ForbiddenError('Cross-site request refused: state-changing requests must come from the dashboard page');
  }
  next();
};

const hostOf = (origin: string): string | undefined => {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
};

const SignIn = z.strictObject({ token: z.string().min(1).max(4096) });

/**
 * `/api/session`: sign in with a token (an admin's or any user's, from the identity
 * provider; `pnpm demo` prints an admin sign-in link), see who is signed in, sign out.
 */
export const sessionRoutes = (guards: Pick<AuthGuards, 'customer'>): Router => {
  const router = Router();
  const tokenFromBody: RequestHandler = (req, _res, next) => {
    const parsed = SignIn.safeParse(req.body);
    if (!parsed.success)
      throw new ValidationError([{ path: 'body.token', message: 'is required (the bearer token to sign in with)' }]);
    req.headers.authorization = `Bearer ${parsed.data.token}`;
    next();
  };
  router.post('/api/session', tokenFromBody, guards.customer, (req, res) => {
    const principal = principalOf(res);
    res.cookie(SESSION_COOKIE, req.headers.authorization?.slice('Bearer '.length) ?? '', {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/',
      maxAge: Math.max(0, principal.expiresAt * 1000 - Date.now()),
    });
    res.json({ subject: principal.subject, admin: principal.admin });
  });
  router.get('/api/session', guards.customer, (_req, res) => {
    const { subject, admin } = principalOf(res);
    res.json({ subject, admin });
  });
  router.delete('/api/session', (_req, res) => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  });
  return router;
};

import type { Request, RequestHandler, Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { perRegistry } from '../per-registry.js';
import type { IdentityVerifier, Principal } from './identity-verifier.js';
import type { ServiceTokenVerifier } from './service-tokens.js';

/** `Authorization: Bearer <token>`, or `undefined`. */
export const bearerToken = (req: Request): string | undefined => {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(header);
  return match?.[1];
};

/** The principal {@link AuthGuards.customer} or {@link AuthGuards.admin} proved for this request. */
export const principalOf = (res: Response): Principal => {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf() on a route without an auth guard');
  return principal;
};

/** The calling service {@link AuthGuards.service} proved for this request. */
export const callerOf = (res: Response): string => {
  const caller = res.locals.caller as string | undefined;
  if (!caller) throw new Error('callerOf() on a route without a service guard');
  return caller;
};

/** Options for {@link createAuthGuards}. */
export interface AuthGuardOptions {
  /** Verifies customers' and admins' tokens. Without it, customer and admin guards refuse everyone. */
  identity?: IdentityVerifier;
  /** Verifies other services' tokens. Without it, service guards refuse everyone. */
  services?: ServiceTokenVerifier;
  /** Where `auth_refused_total` goes. */
  registry: Registry;
}

/** The route guards a service mounts in front of everything that acts for somebody. */
export interface AuthGuards {
  /** A customer's (or an admin's) valid token; `principalOf(res)` says whose. 401 otherwise. */
  customer: RequestHandler;
  /** A valid token with the admin role. 401 without a valid token, 403 without the role. */
  admin: RequestHandler;
  /** A valid service token from one of `callers`. 401 without one, 403 from another service. */
  service(...callers: string[]): RequestHandler;
}

const refusedCounter = perRegistry(
  (registers) =>
    new Counter({
      name: 'auth_refused_total',
      help: 'Requests refused by an auth guard, by guard and reason (missing, invalid, forbidden).',
      labelNames: ['guard', 'reason'],
      registers,
    }),
);

/**
 * Build the guards. A refused request answers problem+json (401 with
 * `WWW-Authenticate: Bearer`, or 403) before any route code runs, so it writes nothing.
 */
export const createAuthGuards = ({ identity, services, registry }: AuthGuardOptions): AuthGuards => {
  const refused = refusedCounter(registry);
  const refuse = (guard: string, reason: 'missing' | 'invalid' | 'forbidden', error: Error): never => {
    refused.inc({ guard, reason });
    throw error;
  };
  const verifyPrincipal = async (guard: string, req: Request, res: Response): Promise<Principal> => {
    const token = bearerToken(req);
    if (!token || !identity) return refuse(guard, 'missing', new UnauthorizedError());
    let principal: Principal;
    try {
      principal = await identity.verify(token);
    } catch (error) {
      if (error instanceof UnauthorizedError) refuse(guard, 'invalid', error);
      throw error;
    }
    res.locals.principal = principal;
    return principal;
  };
  return {
    customer: async (req, res, next) => {
      await verifyPrincipal('customer', req, res);
      next();
    },
    admin: async (req, res, next) => {
      const principal = await verifyPrincipal('admin', req, res);
      if (!principal.admin) refuse('admin', 'forbidden', new ForbiddenError('This action needs the admin role'));
      next();
    },
    service:
      (...callers) =>
      async (req, res, next) => {
        const token = bearerToken(req);
        if (!token || !services) return refuse('service', 'missing', new UnauthorizedError('A service token is required'));
        let caller: string;
        try {
          caller = await services.verify(token);
        } catch (error) {
          return refuse('service', 'invalid', error as Error);
        }
        if (!callers.includes(caller)) refuse('service', 'forbidden', new ForbiddenError(`${caller} may not call this route`));
        res.locals.caller = caller;
        next();
      },
  };
};

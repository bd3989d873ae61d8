import { CustomerId } from '@storefront/contracts';
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { DependencyUnavailableError, UnauthorizedError } from '../errors.js';
import { VerifiedTokens } from './verified-tokens.js';

/** Who a customer-facing request acts for: the token's subject, and whether it holds the admin role. */
export interface Principal {
  /** The token's `sub`: the customer id every order, notification and watch is owned by. */
  subject: string;
  /** The token's `roles` claim lists `admin`. */
  admin: boolean;
  /** The token's `exp` (seconds since the epoch): a session built on it ends then. */
  expiresAt: number;
}

/** Options for {@link IdentityVerifier}. */
export interface IdentityVerifierOptions {
  /** The identity provider's `iss`. */
  issuer: string;
  /** The `aud` Storefront's tokens are minted for. */
  audience: string;
  /** The provider's public keys: inline (a JWK Set) or its JWKS URL (fetched, cached, re-fetched on an unknown `kid`). */
  keys: JSONWebKeySet | URL;
  /** Clock skew allowed on `exp`/`nbf`. Default 5 s. */
  clockToleranceSeconds?: number;
}

/** Asymmetric algorithms only: a verifier never holds a secret that could mint tokens. */
const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];

/**
 * Verifies the bearer tokens customers and admins send: a JWT signed by the identity
 * provider, for Storefront's audience, not expired, whose `sub` is a valid customer id.
 * Any OIDC provider fits: point `keys` at its JWKS URL (`AUTH_JWKS_URL`); the demo and the
 * tests mint their own with a key pair whose public half is passed inline (`AUTH_JWKS`).
 */
export class IdentityVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #verified = new VerifiedTokens<Principal>();

  constructor(private readonly options: IdentityVerifierOptions) {
    this.#keys =
      options.keys instanceof URL
        ? createRemoteJWKSet(options.keys, { timeoutDuration: 2_000, cooldownDuration: 30_000 })
        : createLocalJWKSet(options.keys);
  }

  /** The principal a token proves. Throws `UnauthorizedError` (401) for any bad token, 503 when the JWKS cannot be fetched. */
  async verify(token: string): Promise<Principal> {
    const known = this.#verified.get(token);
    if (known) return known;
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
      }));
    } catch (error) {
      // The provider's keys could not be fetched (timeout, refused, not a JWK Set): the
      // token may be fine; say "try again", not "you are not allowed".
      const unreachable =
        error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError);
      if (unreachable) throw new DependencyUnavailableError('identity provider', { cause: error });
      throw new UnauthorizedError('The bearer token is not valid', { cause: error });
    }
    if (!CustomerId.safeParse(payload.sub).success) throw new UnauthorizedError('The token’s subject is not a valid customer id');
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    const principal = { subject: payload.sub as string, admin: roles.includes('admin'), expiresAt: payload.exp as number };
    this.#verified.set(token, principal, principal.expiresAt);
    return principal;
  }
}

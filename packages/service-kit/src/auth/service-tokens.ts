import { createLocalJWKSet, importJWK, type JSONWebKeySet, type JWK, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import { UnauthorizedError } from '../errors.js';
import { VerifiedTokens } from './verified-tokens.js';

/** How long a service token is valid. Short: a leaked one is soon useless, and nothing revokes it. */
const TOKEN_TTL_SECONDS = 60;
/** A cached token is renewed this long before it expires, so it never arrives expired. */
const RENEW_BEFORE_SECONDS = 20;

/**
 * Signs the credential one service sends another: a JWT with `iss` = `sub` = this service,
 * `aud` = the callee, valid 60 s, signed with this service's own private key (`kid` = its
 * name). One token per audience is cached and renewed 20 s before expiry, so a call costs
 * no signing on the hot path.
 */
export class ServiceTokenSigner {
  readonly #cache = new Map<string, { token: string; renewAt: number }>();
  readonly #key: ReturnType<typeof importJWK>;

  /** `key` is this service's private JWK (`SERVICE_SIGNING_KEY`); its `alg` says how to sign (EdDSA by default). */
  constructor(
    readonly service: string,
    private readonly key: JWK,
  ) {
    this.#key = importJWK(key, key.alg ?? 'EdDSA');
  }

  /** A valid token for calls to `audience`. */
  async token(audience: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const cached = this.#cache.get(audience);
    if (cached && cached.renewAt > now) return cached.token;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: this.key.alg ?? 'EdDSA', kid: this.service, typ: 'JWT' })
      .setIssuer(this.service)
      .setSubject(this.service)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_TTL_SECONDS)
      .sign(await this.#key);
    this.#cache.set(audience, { token, renewAt: now + TOKEN_TTL_SECONDS - RENEW_BEFORE_SECONDS });
    return token;
  }
}

/**
 * Verifies service tokens sent to this service: signed by a key in `trusted` (the callers'
 * public JWKs, `TRUSTED_SERVICE_KEYS`, each with `kid` = the caller's name), for this
 * service's audience, not expired, and issued by the service whose key signed it — so one
 * service's key cannot speak for another.
 */
export class ServiceTokenVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #verified = new VerifiedTokens<string>();

  constructor(
    readonly service: string,
    trusted: JSONWebKeySet,
  ) {
    this.#keys = createLocalJWKSet(trusted);
  }

  /** The calling service's name. Throws `UnauthorizedError` for any bad token. */
  async verify(token: string): Promise<string> {
    const known = this.#verified.get(token);
    if (known) return known;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.#keys, {
        audience: this.service,
        algorithms: ['EdDSA', 'ES256'],
        requiredClaims: ['iss', 'exp'],
        maxTokenAge: `${TOKEN_TTL_SECONDS + 10}s`,
      });
      if (!payload.iss || payload.iss !== protectedHeader.kid) throw new Error('iss does not name the signing key');
      this.#verified.set(token, payload.iss, payload.exp as number);
      return payload.iss;
    } catch (error) {
      throw new UnauthorizedError('The service token is not valid', { cause: error });
    }
  }
}

import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The issuer and audience the demo's and the tests' identity provider uses (the services' defaults). */
export const DEMO_ISSUER = 'storefront-demo';
export const DEMO_AUDIENCE = 'storefront';

/** A stand-in identity provider: one Ed25519 key pair that mints customers' and admins' tokens. */
export interface Identity {
  /** What every service needs to verify its tokens (`AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`). */
  env: { AUTH_JWKS: string; AUTH_ISSUER: string; AUTH_AUDIENCE: string };
  /** The private key as JSON, for a process that mints tokens itself (the demo keeps it in memory only). */
  privateJwk: string;
  /** A token whose subject is `subject`, with the admin role if asked; valid `ttlSeconds` (default 1 h). */
  token(subject: string, options?: { admin?: boolean; ttlSeconds?: number; audience?: string }): Promise<string>;
  /** `subject`'s customer token (1 h), minted once and reused: what a load or a test suite sends per customer. */
  customer(subject: string): Promise<string>;
}

const keyPair = async (kid: string) => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const meta = { kid, alg: 'EdDSA', use: 'sig' };
  return {
    publicKey,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
  };
};

/**
 * A fresh identity provider for a test, the demo or a generated `.env`. A real deployment
 * points `AUTH_JWKS_URL` at its provider instead (docs/operations.md, Security).
 */
export const createIdentity = async (): Promise<Identity> => {
  const pair = await keyPair('storefront-demo-1');
  const customers = new Map<string, Promise<string>>();
  const identity: Identity = {
    env: { AUTH_JWKS: JSON.stringify({ keys: [pair.publicJwk] }), AUTH_ISSUER: DEMO_ISSUER, AUTH_AUDIENCE: DEMO_AUDIENCE },
    privateJwk: JSON.stringify(pair.privateJwk),
    token: (subject, { admin = false, ttlSeconds = 3600, audience = DEMO_AUDIENCE } = {}) =>
      new SignJWT({ roles: admin ? ['admin'] : [] })
        .setProtectedHeader({ alg: 'EdDSA', kid: pair.publicJwk.kid, typ: 'JWT' })
        .setIssuer(DEMO_ISSUER)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(pair.privateKey),
    customer: (subject) => {
      let token = customers.get(subject);
      if (!token) {
        token = identity.token(subject);
        customers.set(subject, token);
      }
      return token;
    },
  };
  return identity;
};

/** One key pair per calling service: its private JWK (`SERVICE_SIGNING_KEY`) and its public one. */
export interface ServiceKeys {
  /** `SERVICE_SIGNING_KEY` for `service`. */
  signingKey(service: string): string;
  /** `TRUSTED_SERVICE_KEYS` naming `callers`. */
  trusted(...callers: string[]): string;
}

/** Fresh key pairs for `services` (each key's `kid` is the service's name). */
export const createServiceKeys = async (services: readonly string[]): Promise<ServiceKeys> => {
  const pairs = new Map<string, { publicJwk: JWK; privateJwk: JWK }>();
  for (const service of services) pairs.set(service, await keyPair(service));
  const get = (service: string) => {
    const pair = pairs.get(service);
    if (!pair) throw new Error(`no key pair for ${service}`);
    return pair;
  };
  return {
    signingKey: (service) => JSON.stringify(get(service).privateJwk),
    trusted: (...callers) => JSON.stringify({ keys: callers.map((c) => get(c).publicJwk) }),
  };
};

/** Which service calls which: the only service-to-service route today is order → catalog (reservations). */
const CALLS = { catalog: ['order'] } as const satisfies Record<string, readonly string[]>;

/** An identity provider plus every service's credentials, as env per service. */
export interface ShopCredentials {
  identity: Identity;
  /** Env for `catalog`, `order`, `notifier` and `dashboard`: identity keys, and each one's service keys. */
  env: Record<'catalog' | 'order' | 'notifier' | 'dashboard', Record<string, string>>;
}

/**
 * Fresh credentials for a whole shop (the test stack, the demo, the bench, a generated
 * `.env`): every service verifies customers' tokens; order signs its calls to catalog, and
 * catalog trusts order's public key only.
 */
export const createShopCredentials = async (): Promise<ShopCredentials> => {
  const identity = await createIdentity();
  const services = await createServiceKeys(['order']);
  // One field-encryption key both ends of the notifications queue hold (order seals, notifier opens and seals).
  const fieldKeys = `k1:${randomBytes(32).toString('base64')}`;
  return {
    identity,
    env: {
      catalog: { ...identity.env, TRUSTED_SERVICE_KEYS: services.trusted(...CALLS.catalog) },
      order: { ...identity.env, SERVICE_SIGNING_KEY: services.signingKey('order'), FIELD_ENCRYPTION_KEYS: fieldKeys },
      notifier: { ...identity.env, FIELD_ENCRYPTION_KEYS: fieldKeys },
      dashboard: { ...identity.env },
    },
  };
};

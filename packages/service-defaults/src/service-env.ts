import { readFileSync } from 'node:fs';
import { parseFieldKeys, type RedisSettings, type RedisTls } from '@storefront/redis-kit';
import { baseEnv, envFields } from '@storefront/service-kit';
import { z } from 'zod';

/** A PEM file named by its path, read at start (a missing or unreadable file fails the start, naming it). */
const pemFile = z
  .string()
  .min(1)
  .transform((path, ctx) => {
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN ')) throw new Error('not a PEM file');
      return text;
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      });
      return z.NEVER;
    }
  });

/**
 * Variables every Storefront service reads: service-kit's HTTP and log settings, plus the
 * Redis deployment and registry membership the {@link ServiceHost} wires. Services extend it
 * (`serviceEnv.extend({ ... })`). Defaults suit local development.
 */
export const serviceEnv = baseEnv.extend({
  /** Coordination Redis (locks, registry, queues, idempotency). Must be `noeviction`. */
  REDIS_URL: envFields.redisUrl.default('redis://127.0.0.1:6379'),
  /** Cache Redis (may evict). Default: the coordination deployment. */
  REDIS_CACHE_URL: envFields.redisUrl.optional(),
  /** Sentinel seeds `host:port,host:port`; when set, REDIS_URL supplies only credentials, db and TLS. */
  REDIS_SENTINELS: envFields.commaList.optional(),
  /** Sentinel master name. Default `storefront`. */
  REDIS_SENTINEL_NAME: z.string().min(1).default('storefront'),
  /** Cluster seed nodes `host:port,host:port`; when set, Redis runs in Cluster mode. */
  REDIS_CLUSTER_NODES: envFields.commaList.optional(),
  /**
   * `replica`: the product cache's L2 reads go to a replica of the coordination deployment
   * (Sentinel or Cluster, without REDIS_CACHE_URL); writes stay on the primary. Staleness:
   * docs/patterns/cache.md, replica reads. Default `primary`.
   */
  REDIS_CACHE_READ_FROM: z.enum(['primary', 'replica']).default('primary'),
  /**
   * With `rediss://` URLs: the CA certificate (PEM file) that signed the Redis servers' (and
   * Sentinels') certificates, when it is not in the system store. Docs: operations.md, TLS.
   */
  REDIS_TLS_CA_FILE: pemFile.optional(),
  /** A client certificate and its key (PEM files), for servers that ask for one (`tls-auth-clients yes`). */
  REDIS_TLS_CERT_FILE: pemFile.optional(),
  REDIS_TLS_KEY_FILE: pemFile.optional(),
  /**
   * How long a Redis command may wait for its reply (also while reconnecting). Past it the
   * request answers 503 with `Retry-After` instead of hanging on a frozen or absent Redis.
   * Default 750ms.
   */
  REDIS_COMMAND_TIMEOUT: envFields.duration.default(750),
  /** Registry record TTL: a crashed instance leaves discovery within it. Default 5 000 ms. */
  REGISTRY_TTL_MS: z.coerce.number().int().min(300).default(5000),
  /**
   * A BullMQ worker with jobs waiting that finishes none for this long is stalled: readiness
   * fails and it is restarted in-process; stalled again before any progress, liveness fails.
   * Must exceed the longest job. Default 60s.
   */
  WORKER_STALL_TIMEOUT: envFields.duration.default(60_000),
  /** How often discovery re-reads the registry (it also hears changes at once). Default 1 000 ms. */
  DISCOVERY_REFRESH_MS: z.coerce.number().int().min(50).default(1000),
  /**
   * Requests one client address may make per minute on each rate-limited route (placing
   * orders, watches), across all instances, on top of the per-customer limits. Default 600.
   */
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /**
   * Express's `trust proxy`: which proxies' `X-Forwarded-For` to believe for the client
   * address (`loopback`, a hop count, a subnet list). Default: none (the socket's peer).
   */
  TRUST_PROXY: z.string().min(1).optional(),
  /** The identity provider's issuer (`iss` of customers' and admins' tokens). Default `storefront-demo`. */
  AUTH_ISSUER: z.string().min(1).default('storefront-demo'),
  /** The audience (`aud`) customers' tokens must be minted for. Default `storefront`. */
  AUTH_AUDIENCE: z.string().min(1).default('storefront'),
  /** The identity provider's public keys, inline (a JWK Set as JSON). One of this or AUTH_JWKS_URL. */
  AUTH_JWKS: envFields.publicJwks.optional(),
  /** The identity provider's JWKS URL (a real OIDC provider's `jwks_uri`). One of this or AUTH_JWKS. */
  AUTH_JWKS_URL: envFields.httpUrl.optional(),
  /** This service's private key (a JWK as JSON) for the tokens it sends other services. Needed by callers (order). */
  SERVICE_SIGNING_KEY: envFields.privateJwk.optional(),
  /** Public keys (a JWK Set as JSON, `kid` = the service's name) of the services allowed to call this one. */
  TRUSTED_SERVICE_KEYS: envFields.publicJwks.optional(),
  /**
   * Keys that seal personal fields before they reach Redis (notification messages in job
   * data): `<id>:<base64 of 32 bytes>,…`; the first seals, every one opens, so a rotation
   * adds a key in front (docs/patterns/field-encryption.md). Needed by order and notifier.
   */
  FIELD_ENCRYPTION_KEYS: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseFieldKeys(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    })
    .optional(),
});
export type ServiceConfig = z.output<typeof serviceEnv>;

/**
 * redis-kit's settings for the coordination deployment (`REDIS_URL` + Sentinel/Cluster
 * seeds) or the cache: `REDIS_CACHE_URL` (a standalone server that may evict) when set,
 * otherwise the coordination deployment serves both roles.
 */
export const redisSettings = (config: ServiceConfig, role: 'coordination' | 'cache'): RedisSettings => {
  // One set of certificates for every Redis the service talks to (used with rediss:// only).
  const tls: RedisTls | undefined =
    config.REDIS_TLS_CA_FILE || config.REDIS_TLS_CERT_FILE || config.REDIS_TLS_KEY_FILE
      ? { ca: config.REDIS_TLS_CA_FILE, cert: config.REDIS_TLS_CERT_FILE, key: config.REDIS_TLS_KEY_FILE }
      : undefined;
  const ownCache = role === 'cache' && config.REDIS_CACHE_URL;
  const url = ownCache ? config.REDIS_CACHE_URL! : config.REDIS_URL;
  const withTls = tls && url.startsWith('rediss:') ? { tls } : {};
  if (ownCache) return { url, ...withTls };
  return {
    url,
    sentinels: config.REDIS_SENTINELS,
    sentinelName: config.REDIS_SENTINEL_NAME,
    clusterNodes: config.REDIS_CLUSTER_NODES,
    ...withTls,
  };
};

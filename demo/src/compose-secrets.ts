import { randomBytes } from 'node:crypto';
import { createShopCredentials, type Identity } from '@storefront/testing';

/**
 * Fresh secrets for docker-compose: a password per Redis and Postgres user, the demo
 * identity provider's public keys, order's signing key, the key catalog trusts and the
 * field-encryption key order and notifier share. Also
 * returns the identity provider itself (its private key only in memory), to mint tokens.
 */
export const composeSecrets = async (): Promise<{ env: Record<string, string>; identity: Identity }> => {
  const password = () => randomBytes(24).toString('base64url');
  const credentials = await createShopCredentials();
  return {
    identity: credentials.identity,
    env: {
      POSTGRES_PASSWORD: password(),
      CATALOG_DB_PASSWORD: password(),
      ORDER_DB_PASSWORD: password(),
      NOTIFIER_DB_PASSWORD: password(),
      CATALOG_REDIS_PASSWORD: password(),
      ORDER_REDIS_PASSWORD: password(),
      NOTIFIER_REDIS_PASSWORD: password(),
      DASHBOARD_REDIS_PASSWORD: password(),
      REPLICA_REDIS_PASSWORD: password(),
      SENTINEL_REDIS_PASSWORD: password(),
      OPS_REDIS_PASSWORD: password(),
      GRAFANA_ADMIN_PASSWORD: password(),
      TRACE_INGEST_TOKEN: randomBytes(32).toString('hex'),
      AUTH_JWKS: credentials.identity.env.AUTH_JWKS,
      CATALOG_TRUSTED_SERVICE_KEYS: credentials.env.catalog.TRUSTED_SERVICE_KEYS!,
      ORDER_SERVICE_SIGNING_KEY: credentials.env.order.SERVICE_SIGNING_KEY!,
      FIELD_ENCRYPTION_KEYS: credentials.env.order.FIELD_ENCRYPTION_KEYS!,
    },
  };
};

/** `env` as a .env file. */
export const envFile = (env: Record<string, string>, by: string): string =>
  `# Written by ${by} on ${new Date().toISOString()}. Keep it out of version control.\n${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;

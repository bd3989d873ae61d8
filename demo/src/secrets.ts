#!/usr/bin/env node
// `pnpm secrets > .env`: fresh secrets for docker-compose — a password per Redis and Postgres
// user, the demo identity provider's public keys, order's signing key and the key catalog
// trusts, and an admin token (on stderr, for signing in to the dashboard). Nothing is
// written anywhere else; the private key of the identity provider is not kept at all.
import { randomBytes } from 'node:crypto';
import { createShopCredentials } from '@storefront/testing';

const password = () => randomBytes(24).toString('base64url');
const credentials = await createShopCredentials();
const env: Record<string, string> = {
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
  AUTH_JWKS: credentials.identity.env.AUTH_JWKS,
  CATALOG_TRUSTED_SERVICE_KEYS: credentials.env.catalog.TRUSTED_SERVICE_KEYS!,
  ORDER_SERVICE_SIGNING_KEY: credentials.env.order.SERVICE_SIGNING_KEY!,
};
process.stdout.write(
  `# Written by pnpm secrets on ${new Date().toISOString()}. Keep it out of version control.\n${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`,
);
const admin = await credentials.identity.token('admin', { admin: true, ttlSeconds: 7 * 24 * 3600 });
process.stderr.write(`admin token (7 days; sign in to the dashboard with it):\n${admin}\n`);

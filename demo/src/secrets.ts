#!/usr/bin/env node
// `pnpm secrets > .env`: fresh secrets for docker-compose — a password per Redis and Postgres
// user, the demo identity provider's public keys, order's signing key and the key catalog
// trusts, and an admin token (on stderr, for signing in to the dashboard). Nothing is
// written anywhere else; the private key of the identity provider is not kept at all.
import { composeSecrets, envFile } from './compose-secrets.js';

const { env, identity } = await composeSecrets();
process.stdout.write(envFile(env, 'pnpm secrets'));
const admin = await identity.token('admin', { admin: true, ttlSeconds: 7 * 24 * 3600 });
process.stderr.write(`admin token (7 days; sign in to the dashboard with it):\n${admin}\n`);

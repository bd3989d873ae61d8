#!/usr/bin/env node
// `pnpm tls:certs [dir]`: certificates for running docker-compose's Redis over TLS
// (docker-compose.tls.yml): a CA and one certificate for every Redis node and Sentinel by
// its compose name (and localhost / 127.0.0.1), valid a year, written to ./tls (or `dir`):
// ca.crt, redis.crt, redis.key. The CA's key is not kept. Refuses to overwrite a set.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createCertificates } from '@storefront/testing';

/** Every name a compose service reaches a Redis node or Sentinel by. */
const COMPOSE_REDIS_HOSTS = [
  'redis-primary',
  'redis-replica',
  'redis-cache',
  'sentinel-1',
  'sentinel-2',
  'sentinel-3',
  'localhost',
  '127.0.0.1',
] as const;

const dir = resolve(process.argv[2] ?? 'tls');
if (existsSync(resolve(dir, 'redis.key'))) {
  process.stderr.write(`${dir} already holds certificates; remove it first to make a new set\n`);
  process.exit(1);
}
try {
  const certs = await createCertificates({ dir, hosts: COMPOSE_REDIS_HOSTS, days: 365 });
  process.stdout.write(
    `wrote ${certs.caFile}, ${certs.certFile} and ${certs.keyFile} (valid 365 days)\n` +
      'run compose over TLS with: docker compose -f docker-compose.yml -f docker-compose.tls.yml up\n',
  );
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}

import { once } from 'node:events';
import { createServer } from 'node:http';
import { createIdentity } from '@storefront/testing';
import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, UnauthorizedError } from '../errors.js';
import { IdentityVerifier } from './identity-verifier.js';

describe('IdentityVerifier with a JWKS URL (how a real identity provider plugs in)', () => {
  it('verifies tokens against keys fetched from the URL, and refuses a token from another key', async () => {
    const identity = await createIdentity();
    const server = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(identity.env.AUTH_JWKS),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as { port: number };
      const verifier = new IdentityVerifier({
        issuer: identity.env.AUTH_ISSUER,
        audience: identity.env.AUTH_AUDIENCE,
        keys: new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`),
      });
      expect(await verifier.verify(await identity.token('c-1', { admin: true }))).toMatchObject({ subject: 'c-1', admin: true });
      const stranger = await createIdentity();
      await expect(verifier.verify(await stranger.token('c-1'))).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      server.close();
    }
  });

  it('answers 503 (not 401) while the provider cannot be reached', async () => {
    const identity = await createIdentity();
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as { port: number };
    closed.close();
    const verifier = new IdentityVerifier({
      issuer: identity.env.AUTH_ISSUER,
      audience: identity.env.AUTH_AUDIENCE,
      keys: new URL(`http://127.0.0.1:${port}/jwks`),
    });
    const error = await verifier.verify(await identity.token('c-1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).status).toBe(503);
  });
});

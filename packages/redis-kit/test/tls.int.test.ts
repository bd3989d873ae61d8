import { connect as tlsConnect } from 'node:tls';
import {
  adminCommand,
  createTestCertificates,
  type RedisProcess,
  startRedisServer,
  startSentinelTopology,
  type TestCertificates,
  waitFor,
} from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';

/**
 * TLS against real TLS-only redis-servers (no plaintext port) with certificates made by
 * openssl in the test: standalone, with a client certificate, and a Sentinel topology whose
 * replication and Sentinel links run over TLS too.
 */
let certs: TestCertificates;
let server: RedisProcess;
const opened: RedisClient[] = [];
const track = (c: RedisClient) => {
  opened.push(c);
  return c;
};
beforeAll(async () => {
  certs = await createTestCertificates();
  server = await startRedisServer({ tls: certs });
});
afterAll(async () => {
  for (const c of opened) c.disconnect();
  await server?.stop();
  await certs?.remove();
});

/** The first `error` a client emits. */
const firstError = (client: RedisClient) => {
  const first = new Promise<Error>((resolve) => client.once('error', resolve));
  client.on('error', () => {}); // it keeps retrying (and failing) until disconnected
  return first;
};

describe('createRedis over TLS (standalone)', () => {
  it('connects with rediss:// and the CA, and the server speaks only TLS', async () => {
    expect(server.url).toMatch(/^rediss:\/\//);
    const client = track(createRedis({ url: server.url, tls: { ca: certs.ca } }));
    expect(await client.set('tls:k', 'v')).toBe('OK');
    expect(await client.get('tls:k')).toBe('v');
    // The handshake really was TLS 1.2+ with the server's certificate for 127.0.0.1.
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: certs.ca });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.authorized).toBe(true);
    expect(socket.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    expect(socket.getPeerCertificate().subjectaltname).toContain('IP Address:127.0.0.1');
    socket.destroy();
  });

  it('refuses a server whose certificate it cannot verify, naming the reason, and answers within the command timeout', async () => {
    const client = track(createRedis({ url: server.url }, { commandTimeoutMs: 500 }));
    const error = firstError(client);
    const started = Date.now();
    await expect(client.get('tls:k')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await error).message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('gets nothing from a plaintext client on the TLS port', async () => {
    const client = track(createRedis({ url: server.url.replace('rediss:', 'redis:') }, { commandTimeoutMs: 500 }));
    client.on('error', () => {});
    await expect(client.get('tls:k')).rejects.toThrow();
  });

  it('refuses certificates given for a redis:// URL instead of silently connecting in clear', () => {
    expect(() => createRedis({ url: 'redis://127.0.0.1:6379', tls: { ca: certs.ca } })).toThrow(/use rediss:\/\//);
  });

  it('presents a client certificate to a server that requires one (tls-auth-clients yes), and is refused without', async () => {
    const strict = await startRedisServer({ tls: certs, config: ['tls-auth-clients yes'] });
    try {
      const withCert = track(createRedis({ url: strict.url, tls: { ca: certs.ca, cert: certs.cert, key: certs.key } }));
      withCert.on('error', () => {});
      expect(await withCert.ping()).toBe('PONG');
      const without = track(createRedis({ url: strict.url, tls: { ca: certs.ca } }, { commandTimeoutMs: 500 }));
      without.on('error', () => {});
      await expect(without.ping()).rejects.toThrow();
    } finally {
      await strict.stop();
    }
  });
});

describe('createRedis over TLS (Sentinel)', () => {
  it('finds the primary through TLS Sentinels and keeps working through a failover with the same client', async () => {
    const topology = await startSentinelTopology({ tls: certs });
    const client = track(
      createRedis({
        url: 'rediss://127.0.0.1:6379',
        sentinels: topology.sentinelAddresses,
        sentinelName: topology.masterName,
        tls: { ca: certs.ca },
      }),
    );
    client.on('error', () => {});
    try {
      await client.set('k', 'before');
      await waitFor(async () => (await adminCommand(topology.replica.port, 'GET', 'k')) === 'before', {
        description: 'replication over TLS',
      });
      await topology.primary.stop('SIGKILL');
      await waitFor(async () => (await topology.currentPrimaryPort()) === topology.replica.port, {
        timeoutMs: 30_000,
        description: 'failover',
      });
      await waitFor(async () => (await client.set('k', 'after').catch(() => undefined)) === 'OK', {
        timeoutMs: 20_000,
        description: 'write after failover',
      });
      expect(await adminCommand(topology.replica.port, 'GET', 'k')).toBe('after');
    } finally {
      client.disconnect();
      await topology.stop();
    }
  }, 60_000);
});

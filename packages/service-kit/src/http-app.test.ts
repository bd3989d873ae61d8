import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createIdentity, createServiceKeys, type Identity, type ServiceKeys } from '@storefront/testing';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pino } from 'pino';
import request from 'supertest';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createAuthGuards, IdentityVerifier, ServiceTokenSigner, ServiceTokenVerifier } from './auth/index.js';
import { ConflictError, DependencyUnavailableError } from './errors.js';
import { Health } from './health.js';
import { createServiceApp } from './http-app.js';
import { REDACT_PATHS } from './logger.js';
import { createMetrics } from './metrics.js';
import { API_SECURITY_HEADERS } from './security-headers.js';
import { parseOrThrow } from './validate.js';

const Body = z.strictObject({ name: z.string().min(1), quantity: z.number().int().min(1) });

let identity: Identity;
let serviceKeys: ServiceKeys;
beforeAll(async () => {
  identity = await createIdentity();
  serviceKeys = await createServiceKeys(['order', 'notifier']);
});

/** Requests `/hang` has received (it never answers them). */
const hangs: unknown[] = [];

const build = (logLines: string[] = []) => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const health = new Health();
  const metrics = createMetrics('test');
  const guards = createAuthGuards({
    identity: new IdentityVerifier({
      issuer: identity.env.AUTH_ISSUER,
      audience: identity.env.AUTH_AUDIENCE,
      keys: JSON.parse(identity.env.AUTH_JWKS),
    }),
    // This "catalog" trusts order and notifier, but its internal route admits order only.
    services: new ServiceTokenVerifier('catalog', JSON.parse(serviceKeys.trusted('order', 'notifier'))),
    registry: metrics.registry,
  });
  const app = createServiceApp({
    logger,
    metrics,
    health,
    bodyLimit: '1kb',
    bodyLimits: { '/bulk': '8kb' },
    routes: (a) => {
      a.post(['/bulk', '/bulk/more', '/bulky'], (req, res) => {
        res.status(201).json({ bytes: JSON.stringify(req.body).length });
      });
      a.post('/things', (req, res) => {
        const body = parseOrThrow(Body, req.body, 'body');
        res.status(201).json(body);
      });
      a.post('/admin', guards.admin, (_req, res) => {
        res.json({ ok: true });
      });
      a.post('/internal', guards.service('order'), (_req, res) => {
        res.json({ ok: true });
      });
      a.get('/things/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
      a.get('/conflict', () => {
        throw new ConflictError('Not enough stock for sku-1', 'insufficient_stock', { extensions: { productId: 'sku-1' } });
      });
      a.get('/down', async () => {
        throw new DependencyUnavailableError('catalog', { retryAfterSeconds: 2 });
      });
      a.get('/request-id', (req, res) => {
        res.json({ id: (req as { id?: string }).id });
      });
      // Never answers: the client gives up first (the request log's 499).
      a.get('/hang', (req) => {
        hangs.push(req);
      });
      a.get('/boom', async () => {
        throw new Error('database password=hunter2 leaked');
      });
    },
  });
  return { app, health, metrics };
};

describe('createServiceApp', () => {
  let app: Express;
  let health: Health;
  let metrics: ReturnType<typeof createMetrics>;
  beforeEach(() => {
    ({ app, health, metrics } = build());
  });

  it('gives a path its own body limit (and what is under it), the rest the general one', async () => {
    const big = { name: 'x'.repeat(4000), quantity: 1 };
    expect((await request(app).post('/bulk').send(big)).status).toBe(201);
    expect((await request(app).post('/bulk/more').send(big)).status).toBe(201);
    expect(
      (
        await request(app)
          .post('/bulk')
          .send({ name: 'x'.repeat(9000) })
      ).status,
    ).toBe(413);
    // Not under /bulk: a name that starts the same is not the path.
    expect((await request(app).post('/bulky').send(big)).status).toBe(413);
    expect((await request(app).post('/things').send(big)).status).toBe(413);
  });

  it('answers a malformed JSON body with 400 problem+json', async () => {
    const res = await request(app).post('/things').set('content-type', 'application/json').send('{"name":');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, code: 'malformed_json', title: 'Bad Request' });
  });

  it('answers a body over the limit with 413 problem+json', async () => {
    const res = await request(app)
      .post('/things')
      .send({ name: 'x'.repeat(2000), quantity: 1 });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('names each invalid field and the rule it broke', async () => {
    const res = await request(app).post('/things').send({ name: '', quantity: 0, extra: true });
    expect(res.status).toBe(400);
    const problem = JSON.parse(res.text);
    expect(problem.code).toBe('validation_failed');
    const paths = problem.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.quantity', 'body.extra']));
  });

  it('maps conflicts to 409 with extension members', async () => {
    const res = await request(app).get('/conflict');
    expect(res.status).toBe(409);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'insufficient_stock', productId: 'sku-1' });
  });

  it('maps an unavailable dependency to 503 with Retry-After', async () => {
    const res = await request(app).get('/down');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
  });

  it('logs a 503 as a warning naming the dependency, without a stack; a 500 as an error with its stack', async () => {
    const lines: string[] = [];
    const { app } = build(lines);
    await request(app).get('/down');
    const down = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(down.length).toBeGreaterThan(0);
    for (const line of down) expect(line.level).toBe(40);
    expect(down.some((l) => l.dependency === 'catalog' && l.code === 'dependency_unavailable')).toBe(true);
    expect(lines.join('')).not.toContain('"stack"');
    lines.length = 0;
    await request(app).get('/boom');
    const boom = lines.map((l) => JSON.parse(l) as { level: number; err?: { stack?: string } });
    expect(boom.some((l) => l.level === 50 && l.err?.stack?.includes('Error'))).toBe(true);
  });

  it('hides internal error details from clients', async () => {
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('hunter2');
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await request(app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });

  it('admits admin routes for the admin role only: 401 (with WWW-Authenticate) without a valid token, 403 without the role', async () => {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const missing = await request(app).post('/admin');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect((await request(app).post('/admin').set(bearer('wrong'))).status).toBe(401);
    const expired = await identity.token('root', { admin: true, ttlSeconds: -60 });
    expect((await request(app).post('/admin').set(bearer(expired))).status).toBe(401);
    const otherAudience = await identity.token('root', { admin: true, audience: 'someone-else' });
    expect((await request(app).post('/admin').set(bearer(otherAudience))).status).toBe(401);
    const customer = await request(app)
      .post('/admin')
      .set(bearer(await identity.token('c-1')));
    expect(customer.status).toBe(403);
    expect(customer.body.code).toBe('forbidden');
    expect(
      (
        await request(app)
          .post('/admin')
          .set(bearer(await identity.token('root', { admin: true })))
      ).status,
    ).toBe(200);
    expect(await metrics.registry.metrics()).toMatch(/auth_refused_total\{guard="admin",reason="forbidden"[^}]*\} 1/);
  });

  it('admits internal routes for the allowed service only: 403 for another trusted service, 401 for a customer', async () => {
    const from = (service: string, audience = 'catalog') =>
      new ServiceTokenSigner(service, JSON.parse(serviceKeys.signingKey(service))).token(audience);
    const bearer = async (token: Promise<string>) => ({ authorization: `Bearer ${await token}` });
    expect(
      (
        await request(app)
          .post('/internal')
          .set(await bearer(from('order')))
      ).status,
    ).toBe(200);
    expect(
      (
        await request(app)
          .post('/internal')
          .set(await bearer(from('notifier')))
      ).status,
    ).toBe(403);
    expect(
      (
        await request(app)
          .post('/internal')
          .set(await bearer(from('order', 'notifier')))
      ).status,
    ).toBe(401);
    expect(
      (
        await request(app)
          .post('/internal')
          .set(await bearer(identity.token('order', { admin: true })))
      ).status,
    ).toBe(401);
    expect((await request(app).post('/internal')).status).toBe(401);
  });

  it('answers a malformed %-escape in a path parameter with 400, not 500', async () => {
    for (const path of ['/things/%', '/things/%E0', '/things/%zz']) {
      const res = await request(app).get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
  });

  it('answers a body whose Content-Encoding lies with 400, and an unknown encoding with 415', async () => {
    const lying = await request(app)
      .post('/things')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send('{"name":"a"}');
    expect(lying.status).toBe(400);
    const unknown = await request(app)
      .post('/things')
      .set('content-type', 'application/json')
      .set('content-encoding', 'br2')
      .send('{}');
    expect(unknown.status).toBe(415);
  });

  it('reuses a sane incoming x-request-id and makes one otherwise', async () => {
    expect((await request(app).get('/health/live').set('x-request-id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
    const generated = (await request(app).get('/health/live').set('x-request-id', 'bad id with spaces')).headers['x-request-id'];
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    // Handlers read it as req.id.
    const echoed = await request(app).get('/request-id').set('x-request-id', 'abc-456');
    expect(echoed.body).toEqual({ id: 'abc-456' });
  });

  it('answers without traceresponse when no tracing SDK is registered, even to a caller’s traceparent', async () => {
    const res = await request(app)
      .get('/request-id')
      .set('traceparent', `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`);
    expect(res.status).toBe(200);
    expect(res.headers.traceresponse).toBeUndefined();
  });

  it('reports ready only while every check passes and the instance is not draining', async () => {
    let redisUp = true;
    health.addCheck('redis', async () => {
      if (!redisUp) throw new Error('connection refused');
    });
    expect((await request(app).get('/health/ready')).status).toBe(200);
    redisUp = false;
    const down = await request(app).get('/health/ready');
    expect(down.status).toBe(503);
    expect(down.body.checks.redis).toBe('connection refused');
    redisUp = true;
    health.startDraining();
    expect((await request(app).get('/health/ready')).status).toBe(503);
    expect((await request(app).get('/health/live')).status).toBe(200);
    // Live until the process says it cannot recover by itself.
    health.markUnrecoverable('worker notifications stalled again after a restart');
    const dead = await request(app).get('/health/live');
    expect(dead.status).toBe(503);
    expect(dead.body).toEqual({ status: 'unrecoverable', reason: 'worker notifications stalled again after a restart' });
  });

  it('exports the HTTP histogram by route template on /metrics', async () => {
    await request(app).post('/things').send({ name: 'a', quantity: 1 });
    const res = await request(app).get('/metrics');
    expect(res.text).toMatch(
      /http_request_duration_seconds_count\{service="test",method="POST",route="\/things",status_code="201"\} 1/,
    );
    expect(res.text).toContain('process_cpu_user_seconds_total');
  });
});

describe('logging', () => {
  it('logs a refused request with its headers, every credential-bearing one redacted whatever its name', async () => {
    const lines: string[] = [];
    const { app } = build(lines);
    await request(app)
      .post('/admin')
      .set('authorization', 'Bearer a-very-secret-token')
      .set('x-admin-token', 'secret-in-x-admin-token')
      .set('x-api-key', 'secret-in-x-api-key')
      .set('proxy-authorization', 'Basic secret-in-proxy-auth')
      .set('cookie', 'storefront_session=secret-in-cookie')
      .set('x-trace', 'not-a-secret');
    const logged = lines.join('');
    expect(logged).toContain('[redacted]');
    for (const secret of [
      'a-very-secret-token',
      'secret-in-x-admin-token',
      'secret-in-x-api-key',
      'secret-in-proxy-auth',
      'secret-in-cookie',
    ]) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).toContain('not-a-secret');
  });
});

type LogLine = {
  level: number;
  msg: string;
  reqId?: string;
  responseTime: number;
  req: { headers?: unknown };
  res: { statusCode: number };
};

describe('request logs and security headers', () => {
  it('logs one line per request with its id, route template, status and time, no headers on a success, nothing for health checks', async () => {
    const lines: string[] = [];
    const { app } = build(lines);
    const res = await request(app).get('/things/42').set('x-request-id', 'req-7').set('x-trace', 'a-header');
    expect(res.status).toBe(200);
    await request(app).get('/health/live');
    const logged = lines.map((l) => JSON.parse(l) as LogLine);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      reqId: 'req-7',
      route: '/things/:id',
      req: { method: 'GET', url: '/things/42' },
      res: { statusCode: 200 },
    });
    expect(logged[0]!.responseTime).toBeGreaterThanOrEqual(0);
    expect(logged[0]!.req.headers).toBeUndefined();
    // A refused request is a warning, with the request id on the error handler's line too.
    lines.length = 0;
    await request(app).get('/down').set('x-request-id', 'req-8');
    const down = lines.map((l) => JSON.parse(l) as LogLine);
    expect(down.every((l) => l.reqId === 'req-8' && l.level === 40)).toBe(true);
    expect(down.find((l) => l.msg === 'request completed')?.res.statusCode).toBe(503);
  });

  it('logs a request the client gave up on as 499 "request aborted", and leaves it out of the HTTP histogram', async () => {
    const lines: string[] = [];
    const { app, metrics } = build(lines);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const before = hangs.length;
      const client = http.get({ host: '127.0.0.1', port, path: '/hang', headers: { 'x-request-id': 'req-gone' } });
      client.on('error', () => {});
      await vi.waitFor(() => expect(hangs.length).toBe(before + 1));
      client.destroy();
      await vi.waitFor(() => expect(lines.some((l) => l.includes('request aborted'))).toBe(true));
      const line = lines.map((l) => JSON.parse(l) as LogLine & { route: string }).find((l) => l.msg === 'request aborted');
      expect(line).toMatchObject({ level: 40, reqId: 'req-gone', route: '/hang', res: { statusCode: 499 } });
      expect(await metrics.registry.metrics()).not.toMatch(/http_request_duration_seconds_count\{[^}]*route="\/hang"/);
    } finally {
      server.close();
    }
  });

  it('sends exactly the headers helmet sends, for a JSON API (the default) and for a custom policy', async () => {
    for (const options of [
      undefined,
      { contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } } },
    ]) {
      const reference = express();
      reference.use(helmet(options ?? API_SECURITY_HEADERS));
      reference.get('/x', (_req, res) => {
        res.json({});
      });
      const ours = createServiceApp({
        logger: pino({ level: 'silent' }),
        metrics: createMetrics('test'),
        health: new Health(),
        securityHeaders: options,
        routes: (a) =>
          a.get('/x', (_req, res) => {
            res.json({});
          }),
      });
      const [want, got] = [await request(reference).get('/x'), await request(ours).get('/x')];
      const security = (h: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(h).filter(
            ([k]) =>
              ![
                'date',
                'etag',
                'content-length',
                'content-type',
                'connection',
                'x-request-id',
                'x-powered-by',
                'keep-alive',
              ].includes(k),
          ),
        );
      expect(Object.keys(security(want.headers)).length).toBeGreaterThanOrEqual(6);
      expect(security(got.headers)).toEqual(security(want.headers));
    }
  });

  it("answers a JSON API's security headers by default: nothing loads, nothing frames, nothing sniffs", async () => {
    const app = createServiceApp({
      logger: pino({ level: 'silent' }),
      metrics: createMetrics('test'),
      health: new Health(),
      routes: () => {},
    });
    const res = await request(app).get('/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers).toMatchObject({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin',
    });
    for (const documentOnly of ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-xss-protection'])
      expect(res.headers[documentOnly]).toBeUndefined();
  });
});

describe('a dependency that cannot answer', () => {
  const appThrowing = (error: unknown) =>
    createServiceApp({
      logger: pino({ level: 'silent' }),
      metrics: createMetrics('test'),
      health: new Health(),
      unavailable: (e) => ((e as Error).message === 'Command timed out' ? 'redis' : undefined),
      routes: (a) => {
        a.get('/x', () => {
          throw error;
        });
      },
    });

  it.each([
    ['redis (the app’s classifier)', new Error('Command timed out'), 'redis'],
    [
      'Postgres restarting (57P03)',
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      'database',
    ],
    [
      'Postgres lock timeout (55P03)',
      Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }),
      'database',
    ],
    ['a pool that cannot connect', new Error('timeout exceeded when trying to connect'), 'database'],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'upstream'],
  ])('answers %s with 503, Retry-After and the dependency, never 500', async (_label, error, dependency) => {
    const res = await request(appThrowing(error)).get('/x');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body).toMatchObject({ code: 'dependency_unavailable', dependency });
  });

  it('still answers a bug (a wrong query) with 500', async () => {
    const res = await request(appThrowing(Object.assign(new Error('syntax error'), { code: '42601' }))).get('/x');
    expect(res.status).toBe(500);
  });
});

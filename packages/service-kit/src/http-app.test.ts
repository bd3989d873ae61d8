import { Writable } from 'node:stream';
import type { Express } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { requireBearer } from './auth.js';
import { ConflictError, DependencyUnavailableError } from './errors.js';
import { Health } from './health.js';
import { createServiceApp } from './http-app.js';
import { REDACT_PATHS } from './logger.js';
import { createMetrics } from './metrics.js';
import { parseOrThrow } from './validate.js';

const Body = z.strictObject({ name: z.string().min(1), quantity: z.number().int().min(1) });

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
  const app = createServiceApp({
    logger,
    metrics,
    health,
    bodyLimit: '1kb',
    routes: (a) => {
      a.post('/things', (req, res) => {
        const body = parseOrThrow(Body, req.body, 'body');
        res.status(201).json(body);
      });
      a.post('/admin', requireBearer('a-very-secret-token'), (_req, res) => {
        res.json({ ok: true });
      });
      a.get('/conflict', () => {
        throw new ConflictError('Not enough stock for sku-1', 'insufficient_stock', { extensions: { productId: 'sku-1' } });
      });
      a.get('/down', async () => {
        throw new DependencyUnavailableError('catalog', { retryAfterSeconds: 2 });
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
  beforeEach(() => {
    ({ app, health } = build());
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

  it('rejects admin routes without the bearer token', async () => {
    expect((await request(app).post('/admin')).status).toBe(401);
    expect((await request(app).post('/admin').set('authorization', 'Bearer wrong')).status).toBe(401);
    expect((await request(app).post('/admin').set('authorization', 'Bearer a-very-secret-token')).status).toBe(200);
  });

  it('reuses a sane incoming x-request-id and makes one otherwise', async () => {
    expect((await request(app).get('/health/live').set('x-request-id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
    const generated = (await request(app).get('/health/live').set('x-request-id', 'bad id with spaces')).headers['x-request-id'];
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
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
  it('redacts the authorization header from request logs', async () => {
    const lines: string[] = [];
    const { app } = build(lines);
    await request(app).post('/admin').set('authorization', 'Bearer a-very-secret-token');
    const logged = lines.join('');
    expect(logged).toContain('[redacted]');
    expect(logged).not.toContain('a-very-secret-token');
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

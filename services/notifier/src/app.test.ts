import { createMetrics, Health } from '@storefront/service-kit';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';

describe('notifier app', () => {
  const app = createApp({ logger: pino({ level: 'silent' }), metrics: createMetrics('notifier'), health: new Health() });

  it('answers liveness and readiness', async () => {
    expect((await request(app).get('/health/live')).status).toBe(200);
    expect((await request(app).get('/health/ready')).body).toEqual({ status: 'ok', checks: {} });
  });

  it('exports its metrics labelled with the service', async () => {
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('service="notifier"');
  });
});

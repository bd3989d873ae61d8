import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Health } from './health.js';
import { createServiceApp } from './http-app.js';
import { createMetrics } from './metrics.js';
import { listen } from './server.js';

const slowApp = (gate: Promise<void>) =>
  createServiceApp({
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('t'),
    health: new Health(),
    routes: (app) => {
      app.get('/slow', async (_req, res) => {
        await gate;
        res.json({ done: true });
      });
    },
  });

describe('listen', () => {
  it('lets an in-flight request finish when closing, then stops accepting', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const server = await listen(slowApp(gate), 0, '127.0.0.1');
    const inFlight = fetch(`http://127.0.0.1:${server.port}/slow`);
    // The request is in the handler once the server counts its connection.
    await new Promise<void>((resolve) => {
      const poll = () => server.server.getConnections((_e, n) => (n > 0 ? resolve() : setTimeout(poll, 5)));
      poll();
    });
    const closed = server.close();
    open();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closed;
    await expect(fetch(`http://127.0.0.1:${server.port}/slow`)).rejects.toThrow();
  });

  it('says which port is taken instead of throwing EADDRINUSE', async () => {
    const first = await listen(slowApp(Promise.resolve()), 0, '127.0.0.1');
    try {
      await expect(listen(slowApp(Promise.resolve()), first.port, '127.0.0.1')).rejects.toThrow(
        `Port ${first.port} on 127.0.0.1 is already in use; set PORT to a free port`,
      );
    } finally {
      await first.close();
    }
  });
});

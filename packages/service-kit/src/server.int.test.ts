import { once } from 'node:events';
import { connect } from 'node:net';
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
  it('cuts off a client whose headers never finish (408) at the headers timeout, not after minutes', async () => {
    const server = await listen(slowApp(Promise.resolve()), 0, '127.0.0.1', { headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    try {
      const socket = connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      const started = performance.now();
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\nX-Never-Ends: ');
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      await once(socket, 'close');
      const ms = performance.now() - started;
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      // Checked every second: within headers timeout + one check interval (+ slack).
      expect(ms).toBeLessThan(2_500);
    } finally {
      await server.close();
    }
  });

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

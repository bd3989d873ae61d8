import { once } from 'node:events';
import { createServer, type Server } from 'node:http';

/** One request the sink received. */
export interface SinkRequest {
  key: string;
  status: number;
  body: Record<string, unknown>;
}

/**
 * A webhook receiver on a loopback port, standing in for the customer's endpoint. It
 * answers with whatever `behaviour` says for (idempotency key, attempt number) and
 * remembers every request, so tests can tell raw deliveries from unique ones.
 */
export const startWebhookSink = async () => {
  const requests: SinkRequest[] = [];
  const attempts = new Map<string, number>();
  let behaviour: (key: string, attempt: number) => number = () => 200;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const status = behaviour(key, attempt);
      requests.push({ key, status, body: JSON.parse(raw || '{}') });
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hooks/notifications`,
    requests,
    /** Keys the sink accepted (2xx) at least once: deliveries as the customer sees them. */
    accepted: () => new Set(requests.filter((r) => r.status < 300).map((r) => r.key)),
    setBehaviour(fn: (key: string, attempt: number) => number) {
      behaviour = fn;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

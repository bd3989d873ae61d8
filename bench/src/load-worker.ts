// One autocannon run in its own process (so the load generator does not share an event
// loop with what it measures). argv: JSON options. Prints the result as one JSON line.
import { randomUUID } from 'node:crypto';
import autocannon, { type Options } from 'autocannon';

interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** `orders`: POST /orders with a fresh Idempotency-Key and a random customer's token per request. */
  mode?: 'get' | 'orders';
  /** Products to order; each request picks one at random. */
  productIds?: string[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
// Customers' tokens come in the environment (a credential never goes on a command line).
const tokens = (process.env.LOAD_TOKENS ?? '').split(' ').filter(Boolean);
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationSeconds,
  ...(options.mode === 'orders'
    ? {
        requests: [
          {
            method: 'POST',
            path: '/orders',
            setupRequest: (req: Record<string, unknown>) => {
              const id = randomUUID();
              return {
                ...req,
                headers: {
                  'content-type': 'application/json',
                  'idempotency-key': `bench-${id}`,
                  ...(tokens.length ? { authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}` } : {}),
                },
                body: JSON.stringify({
                  items: [
                    { productId: options.productIds?.[Math.floor(Math.random() * options.productIds.length)], quantity: 1 },
                  ],
                }),
              };
            },
          },
        ],
      }
    : {}),
} as Options);
const statusCounts: Record<string, number> = {};
for (const [code, n] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = (n as { count: number }).count;
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
  })}\n`,
);

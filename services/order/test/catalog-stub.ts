import { createServer, type IncomingMessage, type Server } from 'node:http';
import { REGISTRY_PREFIX } from '@storefront/contracts';
import { createRedis, type RedisClient, ServiceRegistration } from '@storefront/redis-kit';

/** One request the stub received. */
export interface StubCall {
  method: string;
  path: string;
  body: { orderId?: string; items?: { productId: string; quantity: number }[] } | undefined;
  /** The `authorization` header order sent (its service token). */
  authorization: string | undefined;
}

/** How the stub answers `POST /reservations`. */
export type StubMode =
  /** Reserve at this price; `before` runs before the answer leaves (something that happens meanwhile). */
  | { kind: 'reserve'; unitPriceCents: number; before?: (orderId: string) => Promise<void> }
  | { kind: 'short'; productId: string }
  | { kind: 'unknown'; productId: string }
  | { kind: 'hang' }
  | { kind: 'busy' };

const readBody = async (req: IncomingMessage): Promise<StubCall['body']> => {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : undefined;
};

/**
 * A small real catalog: an HTTP server that answers reservations as told, counts every
 * request, and registers itself in the registry as `catalog`, so order finds it exactly as
 * it finds the real one.
 */
export const startCatalogStub = async (redisUrl: string) => {
  const calls: StubCall[] = [];
  let mode: StubMode = { kind: 'reserve', unitPriceCents: 250 };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    calls.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization });
    const json = (status: number, payload: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type }).end(JSON.stringify(payload));
    };
    if (req.method === 'DELETE' && req.url?.startsWith('/reservations/')) return void res.writeHead(204).end();
    if (req.method !== 'POST' || req.url !== '/reservations') return json(404, { code: 'not_found' });
    switch (mode.kind) {
      case 'reserve': {
        const price = mode.unitPriceCents;
        await mode.before?.(String(body?.orderId));
        return json(201, {
          orderId: body?.orderId,
          status: 'reserved',
          items: body?.items?.map((i) => ({ ...i, unitPriceCents: price })),
        });
      }
      case 'short':
        return json(409, { status: 409, code: 'insufficient_stock', productId: mode.productId }, 'application/problem+json');
      case 'unknown':
        return json(404, { status: 404, code: 'not_found', productId: mode.productId }, 'application/problem+json');
      case 'hang':
        return; // never answers: the client's timeout must end it
      case 'busy':
        res.setHeader('retry-after', '1');
        return json(503, { status: 503, code: 'dependency_unavailable', dependency: 'stock lock' }, 'application/problem+json');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const redis: RedisClient = createRedis({ url: redisUrl });
  redis.on('error', () => {}); // the test takes Redis away on purpose; the heartbeat resumes after
  // A long TTL: order's discovery keeps the stub while the test takes Redis away.
  const register = () =>
    new ServiceRegistration(
      redis,
      { service: 'catalog', instanceId: 'catalog-stub', host: '127.0.0.1', port, startedAt: new Date().toISOString() },
      { ttlMs: 60_000, prefix: REGISTRY_PREFIX },
    );
  let registration = register();
  await registration.start();
  return {
    calls,
    answer(next: StubMode) {
      mode = next;
    },
    /** Leave the registry (deregister), as every catalog record does when Redis lost them all. */
    async leave() {
      await registration.stop();
    },
    /** Register again. */
    async rejoin() {
      registration = register();
      await registration.start();
    },
    async stop() {
      await registration.stop().catch(() => {});
      redis.disconnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
};
export type CatalogStub = Awaited<ReturnType<typeof startCatalogStub>>;

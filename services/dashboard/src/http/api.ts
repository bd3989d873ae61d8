import { randomUUID } from 'node:crypto';
import { ProductId, SERVICE_NAMES } from '@storefront/contracts';
import { type AuthGuards, DependencyUnavailableError, NotFoundError, parseOrThrow } from '@storefront/service-kit';
import { Router } from 'express';
import { z } from 'zod';
import type { DashboardState } from '../dashboard-state.js';

/**
 * Process control, present only when the dashboard runs inside `pnpm demo` (which owns
 * the processes). In docker-compose there is none and those buttons are hidden.
 */
export interface DemoControl {
  steps: readonly string[];
  kill(instanceId: string): Promise<void>;
  restart(service: string): Promise<void>;
  runStep(step: string): Promise<unknown>;
}

const PlaceOrder = z.strictObject({
  productId: ProductId,
  quantity: z.number().int().min(1).max(10).default(1),
});

/**
 * `/api/*` and `/sd/targets`. Everything under `/api` needs a signed-in user (session
 * cookie or bearer token); process control needs the admin role. Cross-site checks are
 * applied by the caller (compose) in front of every state-changing route.
 */
export const apiRoutes = (
  state: DashboardState,
  control: DemoControl | undefined,
  refreshMs: number,
  guards: Pick<AuthGuards, 'customer' | 'admin'>,
): Router => {
  const router = Router();
  router.use('/api/state', guards.customer);
  router.use('/api/stream', guards.customer);
  router.use('/api/orders', guards.customer);
  router.use('/api/control', guards.admin);

  router.get('/api/state', async (_req, res) => {
    res.json({ ...(state.latest ?? (await state.refresh())), control: control ? { steps: control.steps } : null });
  });

  /** Server-sent events: a snapshot every `refreshMs`. */
  router.get('/api/stream', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = () => {
      if (state.latest)
        res.write(`data: ${JSON.stringify({ ...state.latest, control: control ? { steps: control.steps } : null })}\n\n`);
    };
    send();
    const timer = setInterval(send, refreshMs);
    req.on('close', () => clearInterval(timer));
  });

  /** Place an order as the signed-in user: their own token goes to order, which acts for its subject. */
  router.post('/api/orders', async (req, res) => {
    const body = parseOrThrow(PlaceOrder, req.body, 'body');
    const order = state.instances('order')[0];
    if (!order) throw new DependencyUnavailableError('order');
    const answer = await fetch(`http://${order.host}:${order.port}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `dash-${randomUUID()}`,
        authorization: req.headers.authorization ?? '',
      },
      body: JSON.stringify({ items: [{ productId: body.productId, quantity: body.quantity }] }),
      signal: AbortSignal.timeout(10_000),
    });
    // The order's trace, so the page (and a user) can open it.
    const traceresponse = answer.headers.get('traceresponse');
    if (traceresponse) res.setHeader('x-order-traceresponse', traceresponse);
    res
      .status(answer.status)
      .type(answer.headers.get('content-type') ?? 'application/json')
      .send(await answer.text());
  });

  router.post('/api/control/kill/:instanceId', async (req, res) => {
    if (!control) throw new NotFoundError('Process control (only in pnpm demo)');
    await control.kill(parseOrThrow(z.string().min(1).max(100), req.params.instanceId, 'params.instanceId'));
    res.status(202).json({ ok: true });
  });

  router.post('/api/control/restart/:service', async (req, res) => {
    if (!control) throw new NotFoundError('Process control (only in pnpm demo)');
    await control.restart(parseOrThrow(z.enum(SERVICE_NAMES), req.params.service, 'params.service'));
    res.status(202).json({ ok: true });
  });

  router.post('/api/control/steps/:step', async (req, res) => {
    if (!control) throw new NotFoundError('Process control (only in pnpm demo)');
    const step = parseOrThrow(z.enum(control.steps as [string, ...string[]]), req.params.step, 'params.step');
    res.json({ step, result: await control.runStep(step) });
  });

  /**
   * Prometheus HTTP service discovery: every registered instance, labelled by service.
   * While the registry cannot be read it answers 503, not a shrinking list: Prometheus
   * keeps the targets of its last good discovery on an error, so they stay scraped (and an
   * instance that is really down shows `up == 0`) instead of vanishing with their alerts.
   */
  router.get('/sd/targets', (_req, res) => {
    const registered = state.registeredInstances();
    if (!registered) throw new DependencyUnavailableError('registry');
    res.json(
      SERVICE_NAMES.flatMap((service) =>
        (registered[service] ?? []).map((i) => ({
          targets: [`${i.host}:${i.port}`],
          labels: { service, instance_id: i.instanceId },
        })),
      ),
    );
  });

  return router;
};

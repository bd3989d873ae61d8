import { type NotificationJob, NotificationJobId, NotificationQuery, WatchRequest } from '@storefront/contracts';
import { FieldOpenError } from '@storefront/redis-kit';
import { type CustomerLimits, NotificationSealing, spendForCustomer } from '@storefront/service-defaults';
import {
  type AuthGuards,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  parseOrThrow,
  principalOf,
  ValidationError,
} from '@storefront/service-kit';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import type { Delivery } from '../domain/delivery.js';
import type { Watches } from '../domain/watches.js';

/**
 * Delivered notifications (a customer's own; any for an admin), dead letters (failed jobs)
 * and their re-drive (admin only), product watches (for the calling customer).
 */
export const notifierRoutes = ({
  delivery,
  watches,
  queue,
  sealing,
  guards,
  limits,
}: {
  delivery: Delivery;
  watches: Watches;
  queue: Queue<NotificationJob>;
  sealing: NotificationSealing;
  guards: Pick<AuthGuards, 'customer' | 'admin'>;
  limits: CustomerLimits;
}): Router => {
  const router = Router();
  router.use('/dead-letters', guards.admin);
  const readable = (data: NotificationJob): NotificationJob | (Omit<NotificationJob, 'data'> & { data: object }) => {
    try {
      return sealing.open(data);
    } catch {
      return { ...data, data: { ...data.data, message: null } };
    }
  };

  router.get('/notifications', guards.customer, async (req, res) => {
    const query = parseOrThrow(NotificationQuery, req.query, 'query');
    const principal = principalOf(res);
    if (principal.admin) {
      if (!query.orderId && !query.customerId) {
        throw new ValidationError([{ path: 'query', message: 'needs orderId or customerId' }]);
      }
      res.json({ items: await delivery.list(query) });
      return;
    }
    if (query.customerId !== undefined && query.customerId !== principal.subject) {
      throw new ForbiddenError('A customer may list only their own notifications');
    }
    res.json({ items: await delivery.list({ ...query, customerId: principal.subject }) });
  });

  router.get('/dead-letters', async (_req, res) => {
    const failed = await queue.getFailed(0, 199);
    res.json({
      // An admin reads the message opened; one sealed under a key this instance lacks is shown
      // as null with the key id it needs, so the list still answers.
      items: failed.map((job) => ({
        id: job.id,
        data: readable(job.data),
        sealedWith: NotificationSealing.keyIdOf(job.data),
        failedReason: job.failedReason,
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      })),
    });
  });

  router.post('/dead-letters/:id/retry', async (req, res) => {
    const id = parseOrThrow(NotificationJobId, req.params.id, 'params.id');
    const job = await queue.getJob(id);
    if (!job || !(await job.isFailed())) throw new NotFoundError(`Dead letter ${id}`);
    // A re-drive gets its attempts back: otherwise its first failure (the webhook's breaker
    // still open after the refusals that dead-lettered it) would dead-letter it again at once.
    // And its message moves to the current key, so dead letters do not hold a rotation back.
    // One sealed under a key this instance lacks cannot be moved (nor delivered): 409 naming the key.
    let resealed: NotificationJob | undefined;
    try {
      resealed = sealing.reseal(job.data);
    } catch (error) {
      if (!(error instanceof FieldOpenError)) throw error;
      throw new ConflictError(`Dead letter ${id} cannot be re-driven: ${error.message}`, 'conflict', {
        extensions: { keyId: error.keyId ?? null },
      });
    }
    if (resealed) await job.updateData(resealed);
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    res.status(202).json({ id, status: 'retrying' });
  });

  router.post('/watches', guards.customer, async (req, res) => {
    const { productId } = parseOrThrow(WatchRequest, req.body, 'body');
    const customerId = principalOf(res).subject;
    await spendForCustomer(limits, customerId, req, 'watches');
    await watches.add({ customerId, productId });
    res.status(201).json({ customerId, productId });
  });

  return router;
};

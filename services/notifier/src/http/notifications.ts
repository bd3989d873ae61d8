import { type NotificationJob, NotificationQuery, WatchRequest } from '@storefront/contracts';
import { NotFoundError, parseOrThrow } from '@storefront/service-kit';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import { z } from 'zod';
import type { Delivery } from '../domain/delivery.js';
import type { Watches } from '../domain/watches.js';

const JobId = z.string().min(1).max(200);

/** Delivered notifications, dead letters (failed jobs) and their re-drive, product watches. */
export const notifierRoutes = (delivery: Delivery, watches: Watches, queue: Queue<NotificationJob>): Router => {
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const query = parseOrThrow(NotificationQuery, req.query, 'query');
    res.json({ items: await delivery.list(query) });
  });

  router.get('/dead-letters', async (_req, res) => {
    const failed = await queue.getFailed(0, 199);
    res.json({
      items: failed.map((job) => ({
        id: job.id,
        data: job.data,
        failedReason: job.failedReason,
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      })),
    });
  });

  router.post('/dead-letters/:id/retry', async (req, res) => {
    const id = parseOrThrow(JobId, req.params.id, 'params.id');
    const job = await queue.getJob(id);
    if (!job || !(await job.isFailed())) throw new NotFoundError(`Dead letter ${id}`);
    await job.retry('failed');
    res.status(202).json({ id, status: 'retrying' });
  });

  router.post('/watches', async (req, res) => {
    const watch = parseOrThrow(WatchRequest, req.body, 'body');
    await watches.add(watch);
    res.status(201).json(watch);
  });

  return router;
};

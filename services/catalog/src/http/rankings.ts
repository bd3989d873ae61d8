import { RankingsQuery } from '@storefront/contracts';
import { parseOrThrow } from '@storefront/service-kit';
import { Router } from 'express';
import type { RankingsService } from '../domain/rankings-service.js';

/** `GET /rankings?window=<minutes>&limit=<n>`: public, like the catalogue it ranks. */
export const rankingRoutes = (rankings: RankingsService): Router => {
  const router = Router();
  router.get('/rankings', async (req, res) => {
    const query = parseOrThrow(RankingsQuery, req.query, 'query');
    res.json(await rankings.read(query.window, query.limit));
  });
  return router;
};

import { OrderId, ReservationRequest, type ReservationResponse } from '@storefront/contracts';
import type { RateLimiter } from '@storefront/redis-kit';
import { rateLimit } from '@storefront/service-defaults';
import { ConflictError, parseOrThrow } from '@storefront/service-kit';
import { type RequestHandler, Router } from 'express';
import type { StockService } from '../domain/stock-service.js';

/**
 * `/reservations` (order → catalog): stock for an order, all items or none; repeating an
 * orderId returns the first answer. 201 `ReservationResponse`; 409 `insufficient_stock`
 * naming `productId`; 404 naming an unknown `productId`; 409 for an orderId already released.
 * Internal: `fromOrder` admits only order's service token (401/403 for anyone else, before
 * any stock is touched), and each caller address has a generous rate limit.
 */
export const reservationRoutes = (stock: StockService, fromOrder: RequestHandler, limiter: RateLimiter): Router => {
  const router = Router();
  router.use('/reservations', fromOrder, rateLimit(limiter, 'reservations from this caller'));

  router.post('/reservations', async (req, res) => {
    const request = parseOrThrow(ReservationRequest, req.body, 'body');
    const result = await stock.reserve(request);
    if (result.status === 'rejected') {
      throw new ConflictError(`Not enough stock for ${result.productId}`, 'insufficient_stock', {
        extensions: { orderId: result.orderId, productId: result.productId },
      });
    }
    if (result.status === 'released') throw new ConflictError(`Reservation ${result.orderId} was already released`);
    res.status(201).json(result satisfies ReservationResponse);
  });

  router.delete('/reservations/:orderId', async (req, res) => {
    const orderId = parseOrThrow(OrderId, req.params.orderId, 'params.orderId');
    await stock.release(orderId);
    res.status(204).end();
  });

  return router;
};

import { OrderId, ReservationRequest } from '@storefront/contracts';
import { ConflictError, parseOrThrow } from '@storefront/service-kit';
import { Router } from 'express';
import type { StockService } from '../domain/stock-service.js';

/** `/reservations`: stock for an order, all items or none; repeating an orderId returns the first result. */
export const reservationRoutes = (stock: StockService): Router => {
  const router = Router();

  router.post('/reservations', async (req, res) => {
    const request = parseOrThrow(ReservationRequest, req.body, 'body');
    const result = await stock.reserve(request);
    if (result.status === 'rejected') {
      throw new ConflictError(`Not enough stock for ${result.shortProductId}`, 'insufficient_stock', {
        extensions: { orderId: result.orderId, productId: result.shortProductId },
      });
    }
    if (result.status === 'released') throw new ConflictError(`Reservation ${result.orderId} was already released`);
    res.status(201).json(result);
  });

  router.delete('/reservations/:orderId', async (req, res) => {
    const orderId = parseOrThrow(OrderId, req.params.orderId, 'params.orderId');
    await stock.release(orderId);
    res.status(204).end();
  });

  return router;
};

import { CreateProductRequest, ListProductsQuery, ProductId, RestockRequest, UpdateProductRequest } from '@storefront/contracts';
import { parseOrThrow } from '@storefront/service-kit';
import { type RequestHandler, Router } from 'express';
import type { CatalogService } from '../domain/catalog-service.js';
import type { StockService } from '../domain/stock-service.js';

/** `/products`: public reads (cache-aside), writes for the admin role only (`requireAdmin`: 401 without a token, 403 without the role). */
export const productRoutes = (catalog: CatalogService, stock: StockService, requireAdmin: RequestHandler): Router => {
  const router = Router();

  router.get('/products', async (req, res) => {
    const query = parseOrThrow(ListProductsQuery, req.query, 'query');
    const items = await catalog.listProducts(query.limit, query.cursor);
    res.json({ items, nextCursor: items.length === query.limit ? items.at(-1)?.id : null });
  });

  router.get('/products/:id', async (req, res) => {
    const id = parseOrThrow(ProductId, req.params.id, 'params.id');
    const { product, tier } = await catalog.getProduct(id);
    // A stale entry came from Redis too; the header names the tier, not the freshness.
    res.setHeader('x-cache', tier === 'stale' ? 'l2' : tier);
    res.json(product);
  });

  router.post('/products', requireAdmin, async (req, res) => {
    const input = parseOrThrow(CreateProductRequest, req.body, 'body');
    res.status(201).json(await catalog.createProduct(input));
  });

  router.patch('/products/:id', requireAdmin, async (req, res) => {
    const id = parseOrThrow(ProductId, req.params.id, 'params.id');
    const patch = parseOrThrow(UpdateProductRequest, req.body, 'body');
    res.json(await catalog.updateProduct(id, patch));
  });

  router.post('/products/:id/restock', requireAdmin, async (req, res) => {
    const id = parseOrThrow(ProductId, req.params.id, 'params.id');
    const { quantity } = parseOrThrow(RestockRequest, req.body, 'body');
    res.json(await stock.restock(id, quantity));
  });

  return router;
};

import {
  type CreateProductRequest,
  newEvent,
  type Product,
  type StorefrontEvent,
  type UpdateProductRequest,
} from '@storefront/contracts';
import type { CacheTier, EventBus, TwoTierCache } from '@storefront/redis-kit';
import { ConflictError, NotFoundError } from '@storefront/service-kit';
import type { ProductStore } from '../store/product-store.js';

/** Product reads and admin writes. Reads go through the cache; writes update Postgres, then the cache, then announce. */
export class CatalogService {
  constructor(
    private readonly products: ProductStore,
    private readonly cache: TwoTierCache<Product>,
    private readonly events: EventBus<StorefrontEvent>,
    /** false: read Postgres every time (only to measure what the cache is worth). */
    private readonly cacheReads = true,
  ) {}

  /** One product through L1 → Redis → Postgres; says which tier answered. */
  async getProduct(id: string): Promise<{ product: Product; tier: CacheTier }> {
    if (!this.cacheReads) {
      const product = await this.products.get(id);
      if (!product) throw new NotFoundError(`Product ${id}`);
      return { product, tier: 'miss' };
    }
    const { value, tier } = await this.cache.getOrLoad(id, async () => {
      const product = await this.products.get(id);
      return product ? { value: product, version: product.version } : null;
    });
    if (!value) throw new NotFoundError(`Product ${id}`);
    return { product: value, tier };
  }

  listProducts(limit: number, cursor?: string): Promise<Product[]> {
    return this.products.list(limit, cursor);
  }

  async createProduct(input: CreateProductRequest): Promise<Product> {
    const product = await this.products.create(input);
    if (!product) throw new ConflictError(`Product ${input.id} already exists`);
    // Cache-aside: reads fill the cache. A negative entry for this id may be cached, so
    // leave a versioned tombstone everywhere; the first read loads the new row.
    await this.cache.invalidate([product.id], product.version);
    await this.events.publish(
      newEvent('product.updated', {
        productId: product.id,
        version: product.version,
        priceCents: product.priceCents,
        previousPriceCents: null,
      }),
    );
    return product;
  }

  async updateProduct(id: string, patch: UpdateProductRequest): Promise<Product> {
    const result = await this.products.update(id, patch);
    if (!result) throw new NotFoundError(`Product ${id}`);
    const { product, previousPriceCents } = result;
    await this.cache.set(id, product, product.version);
    await this.events.publish(
      newEvent('product.updated', {
        productId: id,
        version: product.version,
        priceCents: product.priceCents,
        previousPriceCents,
      }),
    );
    return product;
  }

  /** After a stock change committed: refresh every cache and announce it. */
  async stockChanged(before: Product, after: Product, reason: 'reserved' | 'released' | 'restocked'): Promise<void> {
    await this.cache.set(after.id, after, after.version);
    await this.events.publish(
      newEvent('stock.changed', { productId: after.id, stock: after.stock, previousStock: before.stock, reason }),
    );
  }
}

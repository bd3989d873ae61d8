import { keys, type OrderItemInput, type Product } from '@storefront/contracts';
import type { CacheEntry, Discovery, RedisClient } from '@storefront/redis-kit';
import { AppError, ConflictError, createBreaker, DependencyUnavailableError, NotFoundError } from '@storefront/service-kit';
import { Counter, type Registry } from 'prom-client';

/** A reserved line as catalog answers it (its price is the one taken under the stock lock). */
export interface ReservedItem {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

/** Options for {@link CatalogClient}. */
export interface CatalogClientOptions {
  /** Per-request timeout for reads. Default 2 000 ms. */
  timeoutMs?: number;
  /**
   * Timeout for a reservation: longer than catalog's stock-lock acquire timeout (10 s),
   * so catalog gives a definite answer rather than order giving up on a request that may
   * still succeed. Default 15 000 ms.
   */
  reserveTimeoutMs?: number;
  /** Breaker stays open this long. Default 5 000 ms. */
  resetTimeoutMs?: number;
  registry: Registry;
}

/**
 * How order talks to catalog: an instance from the registry (never a fixed URL), another
 * instance on a connection failure, all behind an opossum breaker. Prices fall back to
 * the shared product cache (catalog's Redis entries) when catalog cannot answer.
 */
export class CatalogClient {
  readonly #call: (method: string, path: string, body?: unknown) => Promise<unknown>;
  readonly #reserveCall: (method: string, path: string, body?: unknown) => Promise<unknown>;
  readonly #priceSource: Counter<'source'>;

  constructor(
    private readonly discovery: Discovery,
    private readonly productCache: RedisClient,
    options: CatalogClientOptions,
  ) {
    const timeoutMs = options.timeoutMs ?? 2_000;
    this.#call = createBreaker((method: string, path: string, body?: unknown) => this.#request(method, path, body, timeoutMs), {
      name: 'catalog',
      registry: options.registry,
      timeoutMs: timeoutMs * 2 + 500,
      resetTimeoutMs: options.resetTimeoutMs ?? 5_000,
    }).call;
    const reserveTimeoutMs = options.reserveTimeoutMs ?? 15_000;
    this.#reserveCall = createBreaker(
      (method: string, path: string, body?: unknown) => this.#request(method, path, body, reserveTimeoutMs),
      {
        name: 'catalog-reservations',
        registry: options.registry,
        timeoutMs: reserveTimeoutMs + 1_000,
        resetTimeoutMs: options.resetTimeoutMs ?? 5_000,
      },
    ).call;
    this.#priceSource = new Counter({
      name: 'order_price_source_total',
      help: 'Where item prices came from: catalog, or the shared cache while catalog was unreachable',
      labelNames: ['source'] as const,
      registers: [options.registry],
    });
  }

  /** The current price; from the shared cache when catalog is unreachable. */
  async price(productId: string): Promise<{ priceCents: number; source: 'catalog' | 'cache' }> {
    try {
      const product = (await this.#call('GET', `/products/${encodeURIComponent(productId)}`)) as Product;
      this.#priceSource.inc({ source: 'catalog' });
      return { priceCents: product.priceCents, source: 'catalog' };
    } catch (error) {
      if (error instanceof AppError && error.status < 500) throw error;
      const cached = await this.productCache.get(keys.catalog.productCache(productId)).catch(() => null);
      const entry = cached ? (JSON.parse(cached) as CacheEntry<Product>) : undefined;
      if (!entry?.v) throw new DependencyUnavailableError('catalog', { cause: error, retryAfterSeconds: 5 });
      this.#priceSource.inc({ source: 'cache' });
      return { priceCents: entry.v.priceCents, source: 'cache' };
    }
  }

  /** Reserve stock for an order: the reserved lines, or `{ shortProductId }` when stock is insufficient. */
  async reserve(orderId: string, items: OrderItemInput[]): Promise<{ items: ReservedItem[] } | { shortProductId: string }> {
    try {
      return (await this.#reserveCall('POST', '/reservations', { orderId, items })) as { items: ReservedItem[] };
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'insufficient_stock') {
        return { shortProductId: String(error.extensions.productId) };
      }
      throw error;
    }
  }

  /** Release an order's reservation (idempotent on catalog's side). */
  async release(orderId: string): Promise<void> {
    await this.#reserveCall('DELETE', `/reservations/${orderId}`);
  }

  async #request(method: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    // One retry on another instance when the first cannot be reached (crashed, not yet expired from the registry).
    const attempts = Math.min(2, Math.max(1, this.discovery.instances().length));
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let instance: ReturnType<Discovery['pick']>;
      try {
        instance = this.discovery.pick();
      } catch (error) {
        throw new DependencyUnavailableError('catalog', { cause: error });
      }
      let res: Response;
      try {
        res = await fetch(`http://${instance.host}:${instance.port}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        // A timeout is not a refusal: the request may still complete there, so do not send it
        // to another instance as well; the caller decides (order releases the orderId).
        if ((error as Error).name === 'TimeoutError') throw new DependencyUnavailableError('catalog', { cause: error });
        this.discovery.reportFailure(instance.instanceId);
        lastError = error;
        continue;
      }
      if (res.status === 204) return undefined;
      const payload = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.ok) return payload;
      const detail = String(payload.detail ?? `catalog answered ${res.status}`);
      if (res.status === 404) throw new NotFoundError(`catalog ${method} ${path}`);
      if (res.status === 409) {
        throw new ConflictError(detail, payload.code === 'insufficient_stock' ? 'insufficient_stock' : 'conflict', {
          extensions: { productId: payload.productId },
        });
      }
      if (res.status < 500) throw new AppError(res.status, 'validation_failed', detail);
      this.discovery.reportFailure(instance.instanceId);
      lastError = new Error(`catalog ${instance.instanceId} answered ${res.status}: ${detail}`);
    }
    throw new DependencyUnavailableError('catalog', { cause: lastError });
  }
}

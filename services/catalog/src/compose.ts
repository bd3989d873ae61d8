import { channels, keys, type Product } from '@storefront/contracts';
import { RedisLock, SlidingRanking, TwoTierCache } from '@storefront/redis-kit';
import type { ServiceHost } from '@storefront/service-defaults';
import { Gauge, Histogram } from 'prom-client';
import { type CatalogConfig, databaseSessionLimits } from './config.js';
import { CatalogService } from './domain/catalog-service.js';
import { RankingsService } from './domain/rankings-service.js';
import { StockService } from './domain/stock-service.js';
import { productRoutes } from './http/products.js';
import { rankingRoutes } from './http/rankings.js';
import { reservationRoutes } from './http/reservations.js';
import { migrations } from './store/migrations.js';
import { ProductStore } from './store/product-store.js';
import { ReservationStore } from './store/reservation-store.js';

/**
 * Catalog's wiring: products through the two-tier cache, stock under per-SKU locks,
 * registered in the registry. main.ts, the component tests and every tool compose it here.
 */
export const compose = async (host: ServiceHost<CatalogConfig>) => {
  const { config } = host;
  const registry = host.metrics.registry;
  const redis = await host.redis();
  const db = await host.database(config.DATABASE_URL, migrations, databaseSessionLimits(config));
  const cacheRedis = host.cacheRedis();
  const cache = new TwoTierCache<Product>(cacheRedis.command, cacheRedis.subscriber, {
    namespace: 'product',
    key: keys.catalog.productCache,
    channel: channels.cacheInvalidation('product'),
    ttlMs: config.CACHE_TTL_MS,
    l1: config.CACHE_L1_TTL_MS > 0 ? { max: 10_000, ttlMs: config.CACHE_L1_TTL_MS } : false,
    negativeTtlMs: 2_000,
    registry,
    compression: config.CACHE_COMPRESS_MIN_BYTES > 0 ? { minBytes: config.CACHE_COMPRESS_MIN_BYTES } : undefined,
    replicaReads: cacheRedis.replica,
  });
  await cache.start();
  host.shutdown.add('workers', 'stop cache listener', () => cache.stop());
  const products = new ProductStore(db);
  const catalog = new CatalogService(products, cache, await host.events(), config.CATALOG_CACHE === 'on');
  // A hot SKU serialises its reservations: waiters queue, and each release hands the lock
  // to the one waiting longest (fair, one wake-up per release); docs/patterns/locks.md.
  const lock = new RedisLock(redis, {
    ttlMs: config.STOCK_LOCK_TTL_MS,
    acquireTimeoutMs: config.STOCK_LOCK_WAIT,
    handOff: host.connection('subscriber', 'locks'),
    handOffChannel: channels.stockLockHandOff,
    registry,
  });
  // Reservations of one SKU set waiting together share a hold of its locks (lock combining).
  const stock = new StockService(db, products, new ReservationStore(db), lock, catalog, {
    perHold: new Histogram({
      name: 'stock_reservations_per_lock_hold',
      help: 'Reservations made under one hold of their SKU set’s locks (1 when nobody else was waiting)',
      buckets: [1, 2, 4, 8, 16],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'stock_reservations_in_flight',
      help: 'Reservations in this instance waiting for or holding their SKU locks',
      registers: [registry],
    }),
  });
  // Order and the notifier keep the rankings; catalog's ACL user may only read them.
  const ranking = (name: string, key: string) => new SlidingRanking(redis, { name, key, registry });
  const rankings = new RankingsService(
    {
      bestSelling: ranking('best-selling', keys.order.rankings.bestSelling),
      orders: ranking('orders', keys.order.rankings.orders),
      mostWatched: ranking('most-watched', keys.notifier.mostWatchedRanking),
    },
    catalog,
  );
  // Admins change products; only order may reserve and release stock.
  const guards = host.auth({ identity: true, services: true });
  const reservationLimit = await host.rateLimiter('reservations', config.RESERVATION_RATE_LIMIT_PER_MINUTE);
  host.joinRegistry();
  const app = host.httpApp((app) => {
    app.use(productRoutes(catalog, stock, guards.admin));
    app.use(rankingRoutes(rankings));
    app.use(reservationRoutes(stock, guards.service('order'), reservationLimit));
  });
  return { app, cache };
};

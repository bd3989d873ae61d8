import { keys, type Product } from '@storefront/contracts';
import {
  assertNoEviction,
  EventBus,
  RedisConnections,
  RedisLock,
  registrar,
  TwoTierCache,
  toRedisConfig,
} from '@storefront/redis-kit';
import { bootService, redisSettings } from '@storefront/service-kit';
import { createApp } from './app.js';
import { loadCatalogConfig } from './config.js';
import { migrations } from './db/migrations.js';
import { CatalogService } from './domain/catalog-service.js';
import { ProductStore } from './domain/product-store.js';
import { StockService } from './domain/stock-service.js';

await bootService({
  service: 'catalog',
  loadConfig: loadCatalogConfig,
  start: async ({ config, instanceId, logger, metrics, health, shutdown, register, openDatabase }) => {
    const onError = (err: Error, connection: string) => logger.warn({ err, connection }, 'redis connection error');
    const coordination = new RedisConnections(toRedisConfig(redisSettings(config)), instanceId, onError);
    const cacheRedis = new RedisConnections(toRedisConfig(redisSettings(config, 'cache')), `${instanceId}:cache`, onError);
    shutdown.add('redis', 'quit redis', () => Promise.all([coordination.quitAll(), cacheRedis.quitAll()]));
    const redis = coordination.open('command');
    await assertNoEviction(redis);

    const db = await openDatabase(config.DATABASE_URL, migrations);

    const registry = metrics.registry;
    const cache = new TwoTierCache<Product>(cacheRedis.open('command'), cacheRedis.open('subscriber'), {
      namespace: 'product',
      key: keys.catalog.productCache,
      ttlMs: config.CACHE_TTL_MS,
      l1: config.CACHE_L1_TTL_MS > 0 ? { max: 10_000, ttlMs: config.CACHE_L1_TTL_MS } : false,
      negativeTtlMs: 2_000,
      registry,
    });
    await cache.start();
    shutdown.add('workers', 'stop cache listener', () => cache.stop());
    const events = new EventBus(redis, coordination.open('subscriber', 'events'), {
      registry,
      onInvalid: (channel, reason) => logger.warn({ channel, reason }, 'invalid event dropped'),
    });
    const products = new ProductStore(db);
    const catalog = new CatalogService(products, cache, events, config.CATALOG_CACHE === 'on');
    // A hot SKU serialises its reservations: waiters retry on a short jittered delay (5 ms
    // base, capped by the holder's remaining TTL) so hand-offs are quick; docs/benchmarks.md.
    const lock = new RedisLock(redis, { ttlMs: config.STOCK_LOCK_TTL_MS, acquireTimeoutMs: 10_000, retryDelayMs: 5, registry });
    const stock = new StockService(db, products, lock, catalog);

    register(
      registrar(
        redis,
        { service: 'catalog', instanceId, host: config.ADVERTISE_HOST ?? config.HOST },
        {
          ttlMs: config.REGISTRY_TTL_MS,
          registry,
          onEvent: (e) => logger.warn({ err: e.error }, `registry ${e.type}`),
        },
      ),
    );
    health.addCheck('redis', () => redis.ping());
    return createApp({ logger, metrics, health, catalog, stock, adminToken: config.ADMIN_TOKEN, bodyLimit: config.BODY_LIMIT });
  },
});

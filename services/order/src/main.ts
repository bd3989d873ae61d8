import { BULLMQ_PREFIX, keys, type NotificationJob, type OrderExpiryJob, queues } from '@storefront/contracts';
import {
  assertNoEviction,
  Discovery,
  EventBus,
  IdempotencyStore,
  RateLimiter,
  RedisConnections,
  registrar,
  toRedisConfig,
} from '@storefront/redis-kit';
import { bootService, redisSettings } from '@storefront/service-kit';
import { Queue } from 'bullmq';
import { createApp } from './app.js';
import { loadOrderConfig } from './config.js';
import { migrations } from './db/migrations.js';
import { CatalogClient } from './domain/catalog-client.js';
import { OrderService } from './domain/order-service.js';
import { OrderStore } from './domain/order-store.js';
import { startExpiryWorker } from './jobs/expiry-worker.js';
import { orderEventHandler } from './jobs/order-events.js';
import { OutboxRelay } from './jobs/outbox-relay.js';

await bootService({
  service: 'order',
  loadConfig: loadOrderConfig,
  start: async ({ config, instanceId, logger, metrics, health, shutdown, register, openDatabase }) => {
    const registry = metrics.registry;
    const onError = (err: Error, connection: string) => logger.warn({ err, connection }, 'redis connection error');
    const coordination = new RedisConnections(toRedisConfig(redisSettings(config)), instanceId, onError);
    const cacheRedis = new RedisConnections(toRedisConfig(redisSettings(config, 'cache')), `${instanceId}:cache`, onError);
    shutdown.add('redis', 'quit redis', () => Promise.all([coordination.quitAll(), cacheRedis.quitAll()]));
    const redis = coordination.open('command');
    await assertNoEviction(redis);

    const db = await openDatabase(config.DATABASE_URL, migrations);

    const discovery = new Discovery(redis, coordination.open('subscriber', 'registry'), 'catalog', {
      refreshMs: config.DISCOVERY_REFRESH_MS,
      registry,
    });
    await discovery.start();
    shutdown.add('registry', 'stop discovery', () => discovery.stop());
    const catalog = new CatalogClient(discovery, cacheRedis.open('producer'), { timeoutMs: config.CATALOG_TIMEOUT, registry });

    const producer = coordination.open('producer', 'queues');
    const notifications = new Queue<NotificationJob>(queues.notifications, { connection: producer, prefix: BULLMQ_PREFIX });
    const expiries = new Queue<OrderExpiryJob>(queues.orderExpiry, { connection: producer, prefix: BULLMQ_PREFIX });
    for (const queue of [notifications, expiries])
      queue.on('error', (err) => logger.warn({ err, queue: queue.name }, 'queue error'));
    const events = new EventBus(redis, coordination.open('subscriber', 'events'), { registry });

    let relay: OutboxRelay | undefined;
    const orders = new OrderService(new OrderStore(db), catalog, config.ORDER_PAYMENT_TIMEOUT, () => relay?.kick());
    relay = new OutboxRelay(
      db,
      orderEventHandler({ notifications, expiries, events, catalog, paymentTimeoutMs: config.ORDER_PAYMENT_TIMEOUT }),
      { logger: logger.child({ component: 'outbox' }), registry },
    );
    relay.start();
    const worker = startExpiryWorker(coordination.open('worker', 'expiry-worker'), orders, logger);
    shutdown.add('workers', 'stop expiry worker', () => worker.close());
    shutdown.add('workers', 'stop outbox relay', () => relay?.stop());
    shutdown.add('workers', 'close queues', () => Promise.all([notifications.close(), expiries.close()]));

    register(
      registrar(
        redis,
        { service: 'order', instanceId, host: config.ADVERTISE_HOST ?? config.HOST },
        {
          ttlMs: config.REGISTRY_TTL_MS,
          registry,
          onEvent: (e) => logger.warn({ err: e.error }, `registry ${e.type}`),
        },
      ),
    );
    health.addCheck('redis', () => redis.ping());

    return createApp({
      logger,
      metrics,
      health,
      orders,
      idempotency: new IdempotencyStore(redis, { waitMs: 10_000, inFlightTtlMs: 30_000, registry }),
      limiter: new RateLimiter(redis, {
        name: 'orders',
        points: config.ORDER_RATE_LIMIT_PER_MINUTE,
        durationSeconds: 60,
        keyPrefix: keys.order.rateLimitPrefix,
        registry,
      }),
      bodyLimit: config.BODY_LIMIT,
    });
  },
});

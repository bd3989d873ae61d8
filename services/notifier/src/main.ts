import { BULLMQ_PREFIX, type NotificationJob, queues } from '@storefront/contracts';
import { assertNoEviction, EventBus, RedisConnections, registrar, toRedisConfig } from '@storefront/redis-kit';
import { bootService, redisSettings } from '@storefront/service-kit';
import { Queue } from 'bullmq';
import { createApp } from './app.js';
import { loadNotifierConfig } from './config.js';
import { migrations } from './db/migrations.js';
import { Delivery } from './domain/delivery.js';
import { Watches } from './domain/watches.js';
import { webhookSender } from './domain/webhook-sender.js';
import { startNotificationWorker } from './jobs/notification-worker.js';

await bootService({
  service: 'notifier',
  loadConfig: loadNotifierConfig,
  start: async ({ config, instanceId, logger, metrics, health, shutdown, register, openDatabase }) => {
    const registry = metrics.registry;
    const coordination = new RedisConnections(toRedisConfig(redisSettings(config)), instanceId, (err, connection) =>
      logger.warn({ err, connection }, 'redis connection error'),
    );
    shutdown.add('redis', 'quit redis', () => coordination.quitAll());
    const redis = coordination.open('command');
    await assertNoEviction(redis);

    const db = await openDatabase(config.DATABASE_URL, migrations);

    const queue = new Queue<NotificationJob>(queues.notifications, {
      connection: coordination.open('producer', 'queue'),
      prefix: BULLMQ_PREFIX,
    });
    queue.on('error', (err) => logger.warn({ err }, 'queue error'));
    const sender = config.NOTIFY_WEBHOOK_URL
      ? webhookSender(config.NOTIFY_WEBHOOK_URL, registry, config.NOTIFY_WEBHOOK_TIMEOUT)
      : undefined;
    const delivery = new Delivery(db, sender);
    const worker = startNotificationWorker(coordination.open('worker', 'worker'), delivery, {
      concurrency: config.NOTIFY_CONCURRENCY,
      ratePerSecond: config.NOTIFY_RATE_PER_SECOND,
      stalledIntervalMs: config.NOTIFY_STALLED_INTERVAL,
      registry,
      logger,
    });
    // close() lets jobs in progress finish; then the queue's producer connection goes.
    shutdown.add('workers', 'stop worker', () => worker.close());
    shutdown.add('workers', 'close queue', () => queue.close());

    const watches = new Watches(db, queue);
    const events = new EventBus(redis, coordination.open('subscriber', 'events'), {
      registry,
      onInvalid: (channel, reason) => logger.warn({ channel, reason }, 'invalid event dropped'),
      onHandlerError: (event, err) => logger.warn({ err, type: event.type }, 'watch handler failed'),
    });
    await watches.listen(events);
    shutdown.add('workers', 'stop listening', () => events.close());

    register(
      registrar(
        redis,
        { service: 'notifier', instanceId, host: config.ADVERTISE_HOST ?? config.HOST },
        {
          ttlMs: config.REGISTRY_TTL_MS,
          registry,
          onEvent: (e) => logger.warn({ err: e.error }, `registry ${e.type}`),
        },
      ),
    );
    health.addCheck('redis', () => redis.ping());
    return createApp({ logger, metrics, health, delivery, watches, queue, bodyLimit: config.BODY_LIMIT });
  },
});

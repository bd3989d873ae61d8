import { keys, type NotificationJob, type OrderExpiryJob, queues, type StorefrontEvent } from '@storefront/contracts';
import { DataLossMarker, IdempotencyStore, SlidingRanking } from '@storefront/redis-kit';
import { DATABASE_BUDGET_MS, NotificationSealing, placeWorstCaseMs, type ServiceHost } from '@storefront/service-defaults';
import { CatalogClient } from './clients/catalog-client.js';
import type { OrderConfig } from './config.js';
import { OrderService } from './domain/order-service.js';
import { orderRoutes } from './http/orders.js';
import { expireOrder } from './jobs/expiry-worker.js';
import { orderEventHandler } from './jobs/order-events.js';
import { migrations } from './store/migrations.js';
import { OrderStore } from './store/order-store.js';

/**
 * Order's wiring: orders and their outbox in Postgres, catalog found through the
 * registry, the outbox relayed to BullMQ and pub/sub, unpaid orders expired by a delayed
 * job. main.ts, the component tests and every tool compose it here.
 */
export const compose = async (host: ServiceHost<OrderConfig>) => {
  const { config } = host;
  const registry = host.metrics.registry;
  const redis = await host.redis();
  const db = await host.database(config.DATABASE_URL, migrations);
  const guards = host.auth();
  const catalog = new CatalogClient(await host.discovery('catalog'), {
    timeoutMs: config.RESERVATION_TIMEOUT,
    registry,
    credentials: host.serviceTokens(),
  });
  const relay = host.outbox<StorefrontEvent>(
    db,
    orderEventHandler({
      notifications: host.queue<NotificationJob>(queues.notifications),
      sealing: new NotificationSealing(host.fieldCipher()),
      expiries: host.queue<OrderExpiryJob>(queues.orderExpiry),
      events: await host.events(),
      catalog,
      paymentTimeoutMs: config.ORDER_PAYMENT_TIMEOUT,
      replicated: host.queueWritesReplicated(),
      rankings: {
        bestSelling: new SlidingRanking(redis, { name: 'best-selling', key: keys.order.rankings.bestSelling, registry }),
        orders: new SlidingRanking(redis, { name: 'orders', key: keys.order.rankings.orders, registry }),
      },
    }),
    // A release behind a contended stock lock can take a second or more, and a batch lasts as
    // long as its slowest row: other orders' rows go on meanwhile, 8 at a time (one order's
    // events stay in order). Not more: after a failover the releases of every order that
    // expired meanwhile compete for the stock locks with new orders, and 32 at a time made
    // placements wait out their lock (docs/chaos.md). Paused at most 2 s while Redis or
    // catalog is away, so it is draining soon after they return.
    {
      concurrency: 8,
      maxBackoffMs: 2_000,
      orderingKey: (event) => ('orderId' in event.data ? String(event.data.orderId) : event.id),
    },
  );
  const orders = new OrderService(new OrderStore(db), catalog, config.ORDER_PAYMENT_TIMEOUT, () => relay.kick());
  host.worker(queues.orderExpiry, expireOrder(orders), { concurrency: 4 });
  host.sweeper('order-expiry', config.ORDER_SWEEP_INTERVAL, () => orders.expireOverdue());
  // An intent older than any live placement can be (worst case + margin) is a dead one.
  const abandonedAfterMs = placeWorstCaseMs(config) + DATABASE_BUDGET_MS;
  host.sweeper('order-intents', config.ORDER_SWEEP_INTERVAL, () => orders.releaseAbandoned(abandonedAfterMs));
  // Redis replaced by an empty node: the jobs of rows already marked published are gone with it.
  // One instance notices (the marker's SET NX) and relays the recent rows again.
  const marker = new DataLossMarker(redis, { name: 'order', key: keys.order.redisMarker, owner: host.instanceId, registry });
  host.sweeper('order-redis-loss', config.ORDER_REDIS_LOSS_CHECK_INTERVAL, async () => {
    if ((await marker.check()) === 'present') return 0;
    const redriven = await relay.redrive(config.ORDER_REDIS_LOSS_REDRIVE_WINDOW);
    // A fresh Redis is "missing" too; with nothing recent to send again it is no news.
    host.logger[redriven > 0 ? 'warn' : 'info'](
      { redriven, windowMs: config.ORDER_REDIS_LOSS_REDRIVE_WINDOW },
      'redis holds no data-loss marker (lost its data, or new): recent outbox rows re-driven',
    );
    return redriven;
  });
  // Placing keeps the key with the order in Postgres and replays from there: see IdempotencyStore workIsIdempotent.
  const idempotency = new IdempotencyStore(redis, {
    waitMs: 1_000,
    inFlightTtlMs: config.IDEMPOTENCY_IN_FLIGHT_TTL,
    workIsIdempotent: true,
    registry,
  });
  const limits = await host.customerLimits('orders', config.ORDER_RATE_LIMIT_PER_MINUTE);
  host.joinRegistry();
  const app = host.httpApp((app) => {
    app.use(orderRoutes(orders, idempotency, limits, guards));
  });
  return { app, orders, relay, db };
};

import {
  BULLMQ_PREFIX,
  type NotificationJob,
  type OrderExpiryJob,
  queues as queueNames,
  SERVICE_NAMES,
} from '@storefront/contracts';
import { Discovery, EventBus, type RedisConnections } from '@storefront/redis-kit';
import type { Shutdown } from '@storefront/service-kit';
import { Queue } from 'bullmq';
import type { Registry } from 'prom-client';
import { DashboardState } from './dashboard-state.js';

/**
 * Build the dashboard's state collector on `redis`: a Discovery per service, the two
 * queues, the event feed, and a refresh loop. Used by main.ts and by `pnpm demo`.
 */
export const wireDashboard = async (redis: RedisConnections, shutdown: Shutdown, registry: Registry, refreshMs: number) => {
  const command = redis.open('command');
  const registrySubscriber = redis.open('subscriber', 'registry');
  const discoveries = Object.fromEntries(
    SERVICE_NAMES.map((service) => [service, new Discovery(command, registrySubscriber, service, { refreshMs: 500, registry })]),
  );
  await Promise.all(Object.values(discoveries).map((d) => d.start()));
  const producer = redis.open('producer', 'queues');
  const notifications = new Queue<NotificationJob>(queueNames.notifications, { connection: producer, prefix: BULLMQ_PREFIX });
  const expiries = new Queue<OrderExpiryJob>(queueNames.orderExpiry, { connection: producer, prefix: BULLMQ_PREFIX });
  const state = new DashboardState(discoveries, { notifications, expiries });
  await state.listen(new EventBus(command, redis.open('subscriber', 'events')));
  await state.refresh();
  const timer = setInterval(() => void state.refresh().catch(() => {}), refreshMs);
  shutdown.add('workers', 'stop dashboard refresh', () => clearInterval(timer));
  shutdown.add('workers', 'close queues', () => Promise.all([notifications.close(), expiries.close()]));
  shutdown.add('registry', 'stop discovery', () => Promise.all(Object.values(discoveries).map((d) => d.stop())));
  return { state, queues: [notifications, expiries] as Queue[] };
};

import { RedisConnections, toRedisConfig } from '@storefront/redis-kit';
import { bootService, redisSettings } from '@storefront/service-kit';
import { createApp } from './app.js';
import { loadDashboardConfig } from './config.js';
import { wireDashboard } from './wiring.js';

await bootService({
  service: 'dashboard',
  loadConfig: loadDashboardConfig,
  start: async ({ config, instanceId, logger, metrics, health, shutdown }) => {
    const redis = new RedisConnections(toRedisConfig(redisSettings(config)), instanceId, (err, connection) =>
      logger.warn({ err, connection }, 'redis connection error'),
    );
    shutdown.add('redis', 'quit redis', () => redis.quitAll());
    const { state, queues } = await wireDashboard(redis, shutdown, metrics.registry, config.DASHBOARD_REFRESH_MS);
    health.addCheck('redis', async () => {
      await state.refresh();
    });
    return createApp({ logger, metrics, health, state, queues, refreshMs: config.DASHBOARD_REFRESH_MS });
  },
});

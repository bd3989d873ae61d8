import { assertNoEviction, createRedis, toRedisConfig } from '@storefront/redis-kit';
import { bootService, createPool } from '@storefront/service-kit';
import { createApp } from './app.js';
import { loadNotifierConfig } from './config.js';

await bootService({
  service: 'notifier',
  loadConfig: loadNotifierConfig,
  start: async ({ config, instanceId, logger, metrics, health, shutdown }) => {
    const redisConfig = toRedisConfig({
      url: config.REDIS_URL,
      sentinels: config.REDIS_SENTINELS,
      sentinelName: config.REDIS_SENTINEL_NAME,
      clusterNodes: config.REDIS_CLUSTER_NODES,
    });
    const redis = createRedis(redisConfig, { connectionName: `${instanceId}:command` });
    redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
    shutdown.add('redis', 'quit redis', () => redis.quit());
    await assertNoEviction(redis);
    health.addCheck('redis', () => redis.ping());

    const pool = createPool(config.DATABASE_URL);
    shutdown.add('database', 'close pool', () => pool.end());
    health.addCheck('database', () => pool.query('SELECT 1'));

    return createApp({ logger, metrics, health, bodyLimit: config.BODY_LIMIT });
  },
});

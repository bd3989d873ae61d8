// A registered instance for the registry benchmark. argv: redisUrl service instanceId ttlMs
import { createRedis, ServiceRegistration } from '@storefront/redis-kit';

const [redisUrl, service, instanceId, ttlMs] = process.argv.slice(2) as [string, string, string, string];
const registration = new ServiceRegistration(
  createRedis({ url: redisUrl }),
  { service, instanceId, host: '127.0.0.1', port: 1, startedAt: new Date().toISOString() },
  { ttlMs: Number(ttlMs) },
);
await registration.start();
process.stdout.write(`${JSON.stringify({ registered: instanceId })}\n`);

// The queue ceiling: a BullMQ worker that does nothing, same concurrency as the notifier.
// argv: redisUrl queueName concurrency [prefix] [clusterNodes host:port,...]
import { queuePrefix } from '@storefront/contracts';
import { createRedis, toRedisConfig } from '@storefront/redis-kit';
import { Worker } from 'bullmq';

const [redisUrl, queue, concurrency, prefix, clusterNodes] = process.argv.slice(2) as [
  string,
  string,
  string,
  string | undefined,
  string | undefined,
];
const worker = new Worker(queue, async () => undefined, {
  connection: createRedis(toRedisConfig({ url: redisUrl, clusterNodes: clusterNodes?.split(',') }), { role: 'worker' }),
  prefix: prefix || queuePrefix(queue),
  concurrency: Number(concurrency),
});
worker.on('error', () => {});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

// The queue ceiling: a BullMQ worker that does nothing, same concurrency as the notifier.
// argv: redisUrl queueName concurrency
import { queuePrefix } from '@storefront/contracts';
import { createRedis } from '@storefront/redis-kit';
import { Worker } from 'bullmq';

const [redisUrl, queue, concurrency] = process.argv.slice(2) as [string, string, string];
const worker = new Worker(queue, async () => undefined, {
  connection: createRedis({ url: redisUrl }, { role: 'worker' }),
  prefix: queuePrefix(queue),
  concurrency: Number(concurrency),
});
worker.on('error', () => {});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

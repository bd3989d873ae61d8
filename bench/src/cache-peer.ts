// A process holding a two-tier cache entry. It answers two kinds of ping on
// `bench:<ns>:ack`: after a raw pub/sub message (`bench:<ns>:ping`), and after the cache
// dropped its L1 copy because another process changed the value.
// argv: redisUrl namespace peerId
import { createRedis, TwoTierCache } from '@storefront/redis-kit';

const [redisUrl, namespace, peer] = process.argv.slice(2) as [string, string, string];
const redis = createRedis({ url: redisUrl });
const subscriber = createRedis({ url: redisUrl }, { role: 'subscriber' });
const rawSubscriber = createRedis({ url: redisUrl }, { role: 'subscriber' });
const cache = new TwoTierCache<{ v: number }>(redis, subscriber, {
  namespace,
  onInvalidate: () => void redis.publish(`bench:${namespace}:ack`, peer),
});
await cache.start();
await rawSubscriber.subscribe(`bench:${namespace}:ping`);
rawSubscriber.on('message', () => void redis.publish(`bench:${namespace}:ack`, peer));
await cache.getOrLoad('k', async () => ({ value: { v: 0 }, version: 0 }));
process.stdout.write(`${JSON.stringify({ ready: peer })}\n`);

import type { RedisClient } from './create-redis.js';

const SUBSCRIBING = ['select', 'subscribe', 'psubscribe', 'ssubscribe'] as const;

/**
 * Make ioredis' own re-subscriptions fail as `error` events instead of unhandled rejections.
 *
 * After a reconnect ioredis re-selects the database and re-subscribes the client's channels
 * (`autoResubscribe`) by calling `select`/`subscribe`/`psubscribe`/`ssubscribe` and dropping
 * the promise. When that command fails — the connection closes again mid-handshake (a
 * Sentinel failover, a second restart), or the ACL no longer grants the channel — the
 * rejection has no handler, and Node's default for an unhandled rejection ends the process:
 * a service would crash on a Redis hiccup (found as "Unhandled Rejection: Connection is
 * closed." in the cache's replica test under load). Each call's promise gets a handler that
 * reports the failure as the client's `error` when it has a listener (the services log
 * and count those like any connection error); the same promise is returned, so a caller that awaits it still sees the rejection.
 */
export const reportResubscribeErrors = (client: RedisClient): void => {
  const methods = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of SUBSCRIBING) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      const result = original.apply(this, args);
      result?.catch?.((error: unknown) => {
        if (client.listenerCount('error') > 0) client.emit('error', error);
      });
      return result;
    };
  }
};

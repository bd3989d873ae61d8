import type { RedisClient } from './create-redis.js';

/** Options for {@link reviveAfterEnd}. */
export interface ReviveOptions {
  /** Called each time the client is brought back from `end`. */
  onRevive?: () => void;
  /** Wait before reconnecting, so a failing connect cannot spin. Default 100 ms. */
  delayMs?: number;
}

/**
 * Bring `client` back when it reaches `end` without anyone closing it.
 *
 * ioredis reconnects by itself after a lost connection, but one path ends a client for
 * good: a `connect()` whose connector fails sets status `end` directly (no `close`, no
 * retry). On Sentinel with `failoverDetector`, a `+switch-master` that arrives while the
 * client is asking a Sentinel for the primary disconnects the connector mid-connect, and
 * the client stays `end` — every command then fails with `Connection is closed.` until the
 * process restarts (seen under load; test: redis-kit connections › "revives a Sentinel
 * client that a failover ended mid-connect").
 *
 * A deliberate close is told apart by ioredis' own bookkeeping: `quit()`/`disconnect()`
 * either pass through `close` before `end`, or set `manuallyClosing`. Anything else is
 * revived on the same object, so every holder of the client (locks, registry, BullMQ)
 * keeps working without being handed a new one.
 */
export const reviveAfterEnd = (client: RedisClient, { onRevive, delayMs = 100 }: ReviveOptions = {}): void => {
  let previous: string = client.status;
  const internals = client as unknown as { manuallyClosing?: boolean };
  for (const status of ['connecting', 'connect', 'ready', 'close', 'reconnecting'] as const) {
    client.on(status, () => {
      previous = status;
    });
  }
  client.on('end', () => {
    const deliberate = previous === 'close' || internals.manuallyClosing === true;
    previous = 'end';
    if (deliberate) return;
    setTimeout(() => {
      if (client.status !== 'end') return;
      onRevive?.();
      // A failed connect ends the client again, and this runs again: it always comes back.
      client.connect().catch(() => {});
    }, delayMs).unref();
  });
};

import type { RedisClient } from '../connections/create-redis.js';

type ScriptFn<R> = (...keysThenArgs: (string | number)[]) => Promise<R>;

const defined = new WeakMap<RedisClient, Set<string>>();

/**
 * A Lua script registered through ioredis `defineCommand` (EVALSHA with an automatic
 * EVAL fallback, and on a Cluster routed by its first key). Returns a function that
 * takes a client and gives the typed command.
 */
export const defineScript =
  <R>(name: string, numberOfKeys: number, lua: string) =>
  (client: RedisClient): ScriptFn<R> => {
    let names = defined.get(client);
    if (!names) {
      names = new Set();
      defined.set(client, names);
    }
    if (!names.has(name)) {
      client.defineCommand(name, { numberOfKeys, lua });
      names.add(name);
    }
    return (...args) => (client as unknown as Record<string, ScriptFn<R>>)[name]!(...args);
  };

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { keys, queueKey, queues } from '@storefront/contracts';
import { type RedisProcess, renderAclFile, startRedisServer } from '@storefront/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * infra/redis/users.acl, loaded into a real redis-server: each service is held to its
 * own keys and cannot run dangerous commands. (The cross-service suites also run every
 * service under these users, which proves they are enough for the services' real work.)
 */
const run = promisify(execFile);
const template = fileURLToPath(new URL('../../infra/redis/users.acl', import.meta.url));
const USERS = ['catalog', 'order', 'notifier', 'dashboard'] as const;
const passwords: Record<string, string> = {
  ...Object.fromEntries(USERS.map((u) => [`${u.toUpperCase()}_REDIS_PASSWORD`, `${u}-secret-for-test`])),
  REPLICA_REDIS_PASSWORD: 'replica-secret-for-test',
  SENTINEL_REDIS_PASSWORD: 'sentinel-secret-for-test',
  OPS_REDIS_PASSWORD: 'ops-secret-for-test',
};

let server: RedisProcess;
const clients: Partial<Record<(typeof USERS)[number], Redis>> = {};
beforeAll(async () => {
  server = await startRedisServer({ acl: await renderAclFile(template, passwords) });
  for (const user of USERS) {
    clients[user] = new Redis({
      port: server.port,
      host: '127.0.0.1',
      username: user,
      password: `${user}-secret-for-test`,
      enableReadyCheck: true,
    });
  }
});
afterAll(async () => {
  for (const c of Object.values(clients)) c.disconnect();
  await server?.stop();
});

const denied = (p: Promise<unknown>) => expect(p).rejects.toThrow(/NOPERM/);

describe('per-service Redis ACL users', () => {
  it('turns the default user off', async () => {
    const { stdout } = await run('redis-cli', ['-p', String(server.port), 'GET', 'x']);
    expect(stdout).toMatch(/NOAUTH/);
  });

  it('has one break-glass user with full rights (ops), and no service holds its password', async () => {
    const ops = new Redis({ port: server.port, host: '127.0.0.1', username: 'ops', password: passwords.OPS_REDIS_PASSWORD });
    try {
      expect(await ops.call('ACL', 'WHOAMI')).toBe('ops');
      expect(await ops.call('ROLE')).toContainEqual('master');
      await ops.set('order:anything', '1');
    } finally {
      ops.disconnect();
    }
    const compose = readFileSync(fileURLToPath(new URL('../../docker-compose.yml', import.meta.url)), 'utf8');
    // Only the Redis nodes get it (to render the ACL file); the services' environments do not.
    const anchor = compose.slice(compose.indexOf('x-app-env:'), compose.indexOf('services:'));
    expect(anchor).not.toContain('OPS_REDIS_PASSWORD');
    expect(compose.slice(compose.indexOf('  catalog-1:'))).not.toContain('OPS_REDIS_PASSWORD');
  });

  it('lets each service use its own keys', async () => {
    await clients.catalog!.set('catalog:product:sku-1', '{}');
    await clients.catalog!.set('registry:{catalog}:instance:c1', '{}');
    await clients.order!.set('order:idempotency:c:k', '{}');
    await clients.order!.hset(queueKey(queues.notifications, '1'), 'data', '{}');
    await clients.notifier!.set('notifier:delivered:e1', '1');
    await clients.notifier!.hget(queueKey(queues.notifications, '1'), 'data');
    expect(await clients.dashboard!.get('registry:{catalog}:instance:c1')).toBe('{}');
  });

  it.each([
    ['catalog', 'order:idempotency:c:k'],
    ['catalog', 'notifier:delivered:e1'],
    ['catalog', queueKey(queues.notifications, '1')],
    ['order', 'notifier:delivered:e1'],
    ['order', 'catalog:product:sku-1'],
    ['notifier', 'order:idempotency:c:k'],
    ['notifier', 'catalog:product:sku-1'],
    ['dashboard', 'order:idempotency:c:k'],
  ] as const)('denies %s the keys of others (%s)', async (user, key) => {
    await denied(clients[user]!.get(key));
    await denied(clients[user]!.set(key, 'x'));
  });

  it('lets order and the notifier keep their rankings, and catalog read them but write none', async () => {
    const best = `${keys.order.rankings.bestSelling}:0`;
    const watched = `${keys.notifier.mostWatchedRanking}:0`;
    await clients.order!.zincrby(best, 2, 'sku-1');
    await clients.notifier!.zincrby(watched, 1, 'sku-1');
    expect(await clients.catalog!.zunion(1, best, 'AGGREGATE', 'SUM', 'WITHSCORES')).toEqual(['sku-1', '2']);
    expect(await clients.catalog!.zrange(watched, '0', '-1')).toEqual(['sku-1']);
    await denied(clients.catalog!.zincrby(best, 100, 'sku-1'));
    await denied(clients.catalog!.del(watched));
    await denied(clients.order!.zincrby(watched, 100, 'sku-1'));
    await denied(clients.notifier!.zincrby(best, 100, 'sku-1'));
    await denied(clients.dashboard!.zincrby(best, 100, 'sku-1'));
  });

  it.each(USERS.filter((u) => u !== 'catalog'))("denies %s writes to catalog's cache and registry entries", async (user) => {
    await denied(clients[user]!.set('catalog:product:sku-1', 'poisoned'));
    await denied(clients[user]!.del('registry:{catalog}:instance:c1'));
  });

  it.each(USERS)('denies %s FLUSHALL, CONFIG and KEYS', async (user) => {
    await denied(clients[user]!.flushall());
    await denied(clients[user]!.config('GET', 'maxmemory-policy'));
    await denied(clients[user]!.keys('*'));
  });

  it.each(USERS)('allows %s INFO (needed at connect)', async (user) => {
    expect(await clients[user]!.info('memory')).toContain('maxmemory_policy');
  });

  it.each(USERS)('denies %s SCAN and RANDOMKEY (key names carry customer ids)', async (user) => {
    await denied(clients[user]!.scan('0'));
    await denied(clients[user]!.randomkey());
  });

  it.each(USERS)('denies %s SCRIPT FLUSH and FUNCTION FLUSH/LOAD (server-wide)', async (user) => {
    await denied(clients[user]!.script('FLUSH'));
    await denied(clients[user]!.call('FUNCTION', 'FLUSH'));
    await denied(clients[user]!.call('FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('x', function() return 1 end)"));
  });

  it.each([
    ['catalog', 'events:product.updated'],
    ['catalog', 'events:stock.changed'],
    ['catalog', 'cache:invalidate:product'],
    ['catalog', 'catalog:lock:handoff:0123abcd'],
    ['order', 'events:order.placed'],
    ['notifier', 'registry:changes'],
    ['dashboard', 'registry:changes'],
  ] as const)('lets %s publish on its own channel %s', async (user, channel) => {
    expect(await clients[user]!.publish(channel, '{}')).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['order', 'events:product.updated'],
    ['order', 'cache:invalidate:product'],
    ['order', 'catalog:lock:handoff:0123abcd'],
    ['catalog', 'events:order.placed'],
    ['notifier', 'events:order.placed'],
    ['notifier', 'events:product.updated'],
    ['dashboard', 'events:order.expired'],
    ['dashboard', 'cache:invalidate:product'],
  ] as const)('denies %s publishing on a channel that is not its own (%s)', async (user, channel) => {
    await denied(clients[user]!.publish(channel, '{"forged":true}'));
  });

  it('lets the dashboard read ACL LOG (who was refused, and why) and nothing else of ACL', async () => {
    // A service reaching outside its keys, and someone guessing a service's password.
    await denied(clients.catalog!.get('order:idempotency:someone:key'));
    const guess = await run('redis-cli', ['-p', String(server.port), '--user', 'order', '--no-auth-warning', 'PING'], {
      env: { ...process.env, REDISCLI_AUTH: 'a-guess' },
    }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${guess.stdout}${guess.stderr}`).toMatch(/WRONGPASS|NOAUTH/);
    const log = (await clients.dashboard!.call('ACL', 'LOG', '10')) as unknown[][];
    const entries = log.map((entry) => Object.fromEntries(entry.flatMap((v, i) => (i % 2 ? [] : [[String(v), entry[i + 1]]]))));
    expect(entries).toContainEqual(
      expect.objectContaining({ username: 'catalog', reason: 'key', object: 'order:idempotency:someone:key' }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ username: 'order', reason: 'auth', object: 'AUTH' }));
    await denied(clients.dashboard!.call('ACL', 'SETUSER', 'dashboard', '+@all'));
    await denied(clients.dashboard!.call('ACL', 'LIST'));
    await denied(clients.dashboard!.call('ACL', 'GETUSER', 'ops'));
    for (const user of ['catalog', 'order', 'notifier'] as const) await denied(clients[user]!.call('ACL', 'LOG'));
  });

  it('still lets the notifier and the dashboard hear what others announce', async () => {
    const listener = clients.notifier!.duplicate();
    const watcher = clients.dashboard!.duplicate();
    try {
      await listener.subscribe('events:product.updated', 'events:stock.changed');
      await watcher.subscribe('events:order.placed');
      const heard = new Promise<string>((resolve) => listener.once('message', (_channel, message) => resolve(message)));
      await clients.catalog!.publish('events:product.updated', 'price dropped');
      expect(await heard).toBe('price dropped');
    } finally {
      listener.disconnect();
      watcher.disconnect();
    }
  });
});

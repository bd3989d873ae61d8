import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { queueKey, queues } from '@storefront/contracts';
import { freePort, randomAclPasswords, redisServerBin, renderAcl, stopChild, track, waitFor } from '@storefront/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The coordination Redis exactly as shipped (infra/redis/redis.conf + users.acl; only the
 * port, bind address and directories are local), killed with SIGKILL and restarted on
 * the same data: acknowledged writes must come back, including MULTI/EXEC transactions and
 * Lua scripts (the AOF records their effects as MULTI/EXEC; BullMQ, the lock and the
 * registry all write that way).
 */
const run = promisify(execFile);
const infra = fileURLToPath(new URL('../../infra/redis/', import.meta.url));
let dir: string;
let port: number;
let password: string;
let server: ChildProcess | undefined;

const start = async () => {
  const child = track(spawn(redisServerBin(), [join(dir, 'redis.conf')], { stdio: 'ignore' }));
  server = child;
  const probe = new Redis({
    port,
    username: 'order',
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  await waitFor(
    async () =>
      (await probe
        .connect()
        .then(() => probe.ping())
        .catch(() => '')) === 'PONG',
    {
      description: 'redis-server to load its AOF and answer',
    },
  );
  probe.disconnect();
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'storefront-aof-'));
  port = await freePort();
  const template = await readFile(join(infra, 'users.acl'), 'utf8');
  const passwords = randomAclPasswords(template);
  password = passwords.ORDER_REDIS_PASSWORD!;
  await writeFile(join(dir, 'users.acl'), `${renderAcl(template, passwords)}\n`);
  const shipped = await readFile(join(infra, 'redis.conf'), 'utf8');
  await writeFile(
    join(dir, 'redis.conf'),
    shipped
      .replace(/^port .*$/m, `port ${port}`)
      .replace(/^bind .*$/m, 'bind 127.0.0.1')
      .replace(/^dir .*$/m, `dir ${dir}`)
      .replace(/^aclfile .*$/m, `aclfile ${join(dir, 'users.acl')}`),
  );
  await start();
});
afterAll(async () => {
  if (server) await stopChild(server);
  await rm(dir, { recursive: true, force: true });
});

describe('persistence with the shipped redis.conf and users.acl', () => {
  it('restores every acknowledged write after kill -9, transactions and scripts included', async () => {
    const order = new Redis({ port, username: 'order', password });
    await order.set('order:plain', '1');
    expect(await order.multi().set('order:tx-a', 'a').hset(queueKey(queues.notifications, '1'), 'data', 'x').exec()).toEqual([
      [null, 'OK'],
      [null, 1],
    ]);
    expect(await order.eval("redis.call('SET', KEYS[1], ARGV[1]) return 1", 1, 'order:lua', 'from-a-script')).toBe(1);
    // The default user stays unusable: a connection that does not authenticate is refused.
    const { stdout } = await run('redis-cli', ['-p', String(port), 'GET', 'order:plain']);
    expect(stdout).toMatch(/NOAUTH/);
    order.disconnect();

    // Each reply above came after its AOF write reached the OS: a SIGKILL cannot lose it.
    server!.kill('SIGKILL');
    await new Promise((resolve) => server!.once('exit', resolve));
    await start();

    const after = new Redis({ port, username: 'order', password });
    try {
      expect(await after.mget('order:plain', 'order:tx-a', 'order:lua')).toEqual(['1', 'a', 'from-a-script']);
      expect(await after.hget(queueKey(queues.notifications, '1'), 'data')).toBe('x');
    } finally {
      after.disconnect();
    }
  });
});

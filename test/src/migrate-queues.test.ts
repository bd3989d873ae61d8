import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LEGACY_BULLMQ_PREFIX, queuePrefix, queues } from '@storefront/contracts';
import {
  adminCommand,
  type RedisCluster,
  type RedisProcess,
  randomAclPasswords,
  renderAcl,
  startCluster,
  startRedisServer,
  waitFor,
} from '@storefront/testing';
import { Queue, Worker } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../demo/dist/migrate-queues.js', import.meta.url));
const ACL_TEMPLATE = fileURLToPath(new URL('../../infra/redis/users.acl', import.meta.url));

/**
 * `pnpm redis:migrate-queues` (docs/operations.md): jobs written under the old shared
 * `{bull}` prefix are found, after the move, under each queue's own prefix — waiting jobs
 * still waiting with their data, delayed ones still delayed — and a worker of this version
 * processes them. On standalone (as the `ops` user of the shipped ACL) and on a Cluster,
 * where the old keys share one slot and the new ones do not (DUMP/RESTORE, not RENAME).
 */
describe.each(['standalone', 'cluster'] as const)('migrating queues on %s Redis', (topology) => {
  let server: RedisProcess | undefined;
  let cluster: RedisCluster | undefined;
  let env: Record<string, string>;
  let admin: () => Redis | Cluster;
  beforeAll(async () => {
    if (topology === 'standalone') {
      const template = await readFile(ACL_TEMPLATE, 'utf8');
      const passwords = randomAclPasswords(template);
      server = await startRedisServer({ acl: renderAcl(template, passwords) });
      env = { REDIS_URL: `redis://ops:${passwords.OPS_REDIS_PASSWORD}@127.0.0.1:${server.port}` };
      admin = () => new Redis(server!.adminUrl, { maxRetriesPerRequest: null }).on('error', () => {});
    } else {
      cluster = await startCluster();
      env = {
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      };
      admin = () => new Cluster(cluster!.seeds, { redisOptions: { maxRetriesPerRequest: null } }).on('error', () => {});
    }
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  const keysUnder = async (pattern: string) => {
    const ports = server ? [server.port] : cluster!.nodes.map((n) => n.port);
    const found = await Promise.all(ports.map((p) => adminCommand(p, 'KEYS', pattern) as Promise<string[]>));
    return found.flat();
  };

  it('moves waiting and delayed jobs to the per-queue prefixes, and a worker of this version runs them', async () => {
    const connection = admin();
    const legacy = {
      notifications: new Queue(queues.notifications, { connection, prefix: LEGACY_BULLMQ_PREFIX }),
      expiries: new Queue(queues.orderExpiry, { connection, prefix: LEGACY_BULLMQ_PREFIX }),
    };
    for (let i = 0; i < 3; i++) await legacy.notifications.add('notify', { n: i }, { jobId: `n-${i}` });
    for (let i = 0; i < 2; i++) await legacy.expiries.add('expire', { orderId: `o-${i}` }, { jobId: `e-${i}`, delay: 600_000 });
    expect((await keysUnder(`${LEGACY_BULLMQ_PREFIX}:*`)).length).toBeGreaterThan(0);

    const dry = await run(process.execPath, [cli, '--dry-run'], { env: { ...process.env, ...env } });
    expect(dry.stdout).toMatch(/notifications: \d+ key\(s\) to move/);
    expect((await keysUnder(`${LEGACY_BULLMQ_PREFIX}:*`)).length).toBeGreaterThan(0);

    const moved = await run(process.execPath, [cli], { env: { ...process.env, ...env } });
    expect(moved.stdout).toMatch(/notifications: [1-9]\d* key\(s\) moved/);
    expect(moved.stdout).toMatch(/order-expiry: [1-9]\d* key\(s\) moved/);
    expect(await keysUnder(`${LEGACY_BULLMQ_PREFIX}:*`)).toEqual([]);
    if (cluster) {
      // The two queues now sit on two different primaries.
      const holders = await Promise.all(
        [queues.notifications, queues.orderExpiry].map((q) => cluster!.primariesHolding(`${queuePrefix(q)}:*`)),
      );
      expect(holders[0]).toHaveLength(1);
      expect(holders[1]).toHaveLength(1);
      expect(holders[0]![0]).not.toBe(holders[1]![0]);
    }

    const current = {
      notifications: new Queue(queues.notifications, { connection, prefix: queuePrefix(queues.notifications) }),
      expiries: new Queue(queues.orderExpiry, { connection, prefix: queuePrefix(queues.orderExpiry) }),
    };
    expect(await current.expiries.getJobCounts('delayed')).toEqual({ delayed: 2 });
    expect((await current.expiries.getJob('e-1'))?.data).toEqual({ orderId: 'o-1' });
    const seen: unknown[] = [];
    const worker = new Worker(queues.notifications, async (job) => void seen.push(job.data), {
      connection: admin(),
      prefix: queuePrefix(queues.notifications),
    });
    try {
      await waitFor(() => seen.length === 3, { timeoutMs: 10_000, description: 'the three moved jobs processed' });
      expect(seen).toEqual(expect.arrayContaining([{ n: 0 }, { n: 1 }, { n: 2 }]));
    } finally {
      await worker.close();
      await Promise.all([...Object.values(legacy), ...Object.values(current)].map((q) => q.close()));
      connection.disconnect();
    }
  });

  it('refuses to overwrite a key that already exists under the new name, and says which', async () => {
    const connection = admin();
    try {
      await connection.set(`${LEGACY_BULLMQ_PREFIX}:${queues.notifications}:clash`, 'old');
      await connection.set(`${queuePrefix(queues.notifications)}:${queues.notifications}:clash`, 'new');
      const result = await run(process.execPath, [cli], { env: { ...process.env, ...env } }).catch((e) => e);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`${queuePrefix(queues.notifications)}:${queues.notifications}:clash`);
      expect(await connection.get(`${queuePrefix(queues.notifications)}:${queues.notifications}:clash`)).toBe('new');
      expect(await connection.get(`${LEGACY_BULLMQ_PREFIX}:${queues.notifications}:clash`)).toBe('old');
    } finally {
      connection.disconnect();
    }
  });
});

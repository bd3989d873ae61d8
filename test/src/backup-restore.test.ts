import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jobIds, keys, queueKey, queues } from '@storefront/contracts';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type Stack, startStack } from './stack.js';

/**
 * `pnpm redis:backup` and `pnpm redis:restore` on the running shop: orders placed, a backup,
 * more orders, the Redis server replaced by an empty one, the restore — and the shop finds
 * its state back (delayed expiry jobs, fences, idempotency records) and works on, the jobs of
 * the orders placed after the snapshot queued again from order's outbox, every order
 * notified exactly once.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const backupCli = join(root, 'demo/dist/redis-backup.js');
const restoreCli = join(root, 'demo/dist/redis-restore.js');
const PRODUCT = 'br-a';

let stack: Stack;
let work: string;
beforeAll(async () => {
  // The restore alone brings the jobs back here: order's own data-loss check (redis-loss.test.ts) is kept out of it.
  stack = await startStack({ redisConfig: ['appendonly yes'], env: { order: { ORDER_REDIS_LOSS_CHECK_INTERVAL: '1h' } } });
  work = await mkdtemp(join(tmpdir(), 'storefront-backup-'));
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const opsEnv = () => ({ ...process.env, REDIS_URL: stack.redisServer.adminUrl });
const outboxDrained = async () =>
  (await stack.count('order', 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0;
const notified = (orderId: string, kind: string) =>
  stack.count('notifier', 'SELECT count(*) AS n FROM notifications WHERE order_id = $1 AND kind = $2', [orderId, kind]);
const place = async (i: number, customer: string) => {
  const key = `br-${customer}`;
  const res = await stack.placeOrder(i, customer, [{ productId: PRODUCT, quantity: 1 }], key);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as string, customer, key };
};
const queueIdle = async () => {
  const q = (suffix: string) => queueKey(queues.notifications, suffix);
  const [wait, active, delayed] = await Promise.all([
    stack.redis.llen(q('wait')),
    stack.redis.llen(q('active')),
    stack.redis.zcard(q('delayed')),
  ]);
  return wait + active + delayed === 0;
};

describe('backup and restore of the coordination Redis', () => {
  it('restores a snapshot into a replaced (empty) Redis: state back, later jobs re-driven, every order notified exactly once, the shop working on', async () => {
    await stack.createProduct(PRODUCT, 100);
    const before = [await place(0, 'br-c0'), await place(1, 'br-c1'), await place(0, 'br-c2'), await place(1, 'br-c3')];
    for (const o of before.slice(0, 2)) {
      expect((await post(`${stack.order[0]!.baseUrl}/orders/${o.id}/pay`, {}, await stack.auth(o.customer))).status).toBe(200);
    }
    await waitFor(outboxDrained, { description: 'outbox drained', timeoutMs: 20_000 });
    const fenceKey = `${keys.catalog.stockLock(PRODUCT)}:fence`;
    const fenceAtBackup = Number(await stack.redis.get(fenceKey));
    expect(fenceAtBackup).toBeGreaterThan(0);

    // The backup: an RDB over the replication protocol, and when it was taken.
    const file = join(work, 'snapshot.rdb');
    const backup = await run(process.execPath, [backupCli, file], { env: opsEnv() });
    expect(backup.stdout).toMatch(/snapshot\.rdb: \d+ bytes, taken /);
    const meta = JSON.parse(await readFile(`${file}.json`, 'utf8')) as { takenAt: string };
    expect(Date.now() - Date.parse(meta.takenAt)).toBeLessThan(60_000);

    // Newer data the snapshot does not hold: two more orders (their expiry and notification jobs).
    const after = [await place(0, 'br-c4'), await place(1, 'br-c5')];
    await waitFor(outboxDrained, { description: 'outbox drained again', timeoutMs: 20_000 });

    // The node is replaced: Redis comes back empty.
    await stack.restartRedis({ empty: true });
    const delayed = queueKey(queues.orderExpiry, 'delayed');
    expect(await stack.redis.zscore(delayed, jobIds.orderExpiry(before[2]!.id))).toBeNull();

    const restore = await run(process.execPath, [restoreCli, file, '--replace'], {
      env: { ...opsEnv(), ORDER_DATABASE_URL: stack.dbs.order.url },
    });
    expect(restore.stdout).toMatch(/restored \d+ keys into the target; (\d+) outbox rows re-driven/);
    const redriven = Number(/; (\d+) outbox rows re-driven/.exec(restore.stdout)![1]);
    expect(redriven).toBeGreaterThanOrEqual(after.length);
    await waitFor(outboxDrained, { description: 'the re-driven rows relayed', timeoutMs: 20_000 });

    // Every unpaid order has its delayed expiry job again: from the snapshot, or re-driven.
    for (const o of [...before.slice(2), ...after]) {
      expect(await stack.redis.zscore(delayed, jobIds.orderExpiry(o.id)), o.id).not.toBeNull();
    }
    // The fencing counter is back (a later one is healed past Postgres' by the first refused write).
    expect(Number(await stack.redis.get(fenceKey))).toBeGreaterThanOrEqual(fenceAtBackup);
    // An idempotency record from the snapshot answers a retry with the first order.
    const retried = await stack.placeOrder(1, before[0]!.customer, [{ productId: PRODUCT, quantity: 1 }], before[0]!.key);
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(before[0]!.id);
    // The shop works on: a new order, exact stock.
    const next = await place(0, 'br-c6');
    expect(await stack.stockOf(PRODUCT)).toBe(100 - 7);
    // Every order notified exactly once (the re-driven jobs found their delivery records), the paid ones paid once.
    await waitFor(queueIdle, { description: 'notification queue idle', timeoutMs: 30_000 });
    await waitFor(async () => (await notified(next.id, 'order.placed')) === 1, { description: 'the new order notified' });
    for (const o of [...before, ...after, next]) expect(await notified(o.id, 'order.placed'), o.id).toBe(1);
    for (const o of before.slice(0, 2)) expect(await notified(o.id, 'order.paid'), o.id).toBe(1);
  }, 120_000);

  it('refuses a target that holds keys unless told to flush or replace, naming how many', async () => {
    const file = join(work, 'snapshot.rdb');
    expect(existsSync(file)).toBe(true);
    const refused = await run(process.execPath, [restoreCli, file], { env: opsEnv() }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((refused as { code: number }).code).toBe(1);
    expect((refused as { stderr: string }).stderr).toMatch(/the target holds \d+ keys: pass --flush .* or --replace/);
  });

  it('fails a backup with a wrong password in one line, without printing it', async () => {
    const url = new URL(stack.redisServer.adminUrl);
    url.password = 'not-the-password';
    const failed = await run(process.execPath, [backupCli, join(work, 'x.rdb')], {
      env: { ...process.env, REDIS_URL: url.toString() },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/^redis:backup: redis-cli --rdb failed: .*(WRONGPASS|AUTH)/m);
    expect((failed as { stderr: string }).stderr).not.toContain('not-the-password');
    expect(existsSync(join(work, 'x.rdb.json'))).toBe(false);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { queuePrefix, queues } from '@storefront/contracts';
import { waitFor } from '@storefront/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from './stack.js';

/**
 * Notification messages are sealed (AES-256-GCM, FIELD_ENCRYPTION_KEYS) before their jobs
 * reach Redis: on the running shop, no value of any type and no byte of the AOF holds one,
 * and a key rotation — including the mistake of retiring a key too early — loses nothing.
 */
let stack: Stack;
beforeAll(async () => {
  // appendfsync always: the AOF on disk holds every write Redis acknowledged.
  stack = await startStack({
    redisConfig: ['appendonly yes', 'appendfsync always'],
    env: { order: { ORDER_RATE_LIMIT_PER_MINUTE: '100' }, notifier: { NOTIFY_STALLED_INTERVAL: '2s' } },
  });
}, 120_000);
afterAll(() => stack?.stop());

const notificationKeyPrefix = `${queuePrefix(queues.notifications)}:${queues.notifications}:notify-`;

/** Every key and every value on the server, read back by type, as one text. */
const everyValue = async (): Promise<string> => {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await stack.redis.scan(cursor, 'COUNT', '1000');
    cursor = next;
    for (const key of found) {
      parts.push(key);
      const type = await stack.redis.type(key);
      if (type === 'string') parts.push(String(await stack.redis.get(key)));
      else if (type === 'hash') parts.push(...Object.entries(await stack.redis.hgetall(key)).flat());
      else if (type === 'list') parts.push(...(await stack.redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(...(await stack.redis.smembers(key)));
      else if (type === 'zset') parts.push(...(await stack.redis.zrange(key, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await stack.redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
};

/** The Redis server's AOF files, every write as it keeps them on disk. */
const aofText = async (): Promise<string> => {
  const dir = join(stack.redisServer.dir, 'appendonlydir');
  return (await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'latin1')))).join('\n');
};

/** The notification jobs of `orderId` as Redis holds them: their id and stored message. */
const jobsOf = async (orderId: string): Promise<{ id: string; message: string }[]> => {
  const jobs: { id: string; message: string }[] = [];
  let cursor = '0';
  do {
    const [next, found] = await stack.redis.scan(cursor, 'MATCH', `${notificationKeyPrefix}*`, 'COUNT', '1000');
    cursor = next;
    for (const key of found) {
      if ((await stack.redis.type(key)) !== 'hash') continue;
      const data = await stack.redis.hget(key, 'data');
      const job = data ? (JSON.parse(data) as { data: { orderId: string | null; message: string } }) : undefined;
      if (job?.data.orderId === orderId)
        jobs.push({ id: key.slice(notificationKeyPrefix.length - 'notify-'.length), message: job.data.message });
    }
  } while (cursor !== '0');
  return jobs;
};

const delivered = (orderId: string) =>
  stack.count('notifier', "SELECT count(*) AS n FROM notifications WHERE order_id = $1 AND kind = 'order.placed'", [orderId]);

const outboxDrained = async () =>
  (await stack.count('order', 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0;

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('field encryption on the running shop', () => {
  it('keeps every notification message out of Redis — no key, no value, no byte of the AOF — while customers read them in clear', async () => {
    const productId = `fe-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(productId, 10, 2000);
    // A watch makes the notifier itself produce a job (a price drop), beside order's (order.placed).
    const watch = await post(`${stack.notifier.baseUrl}/watches`, { productId }, await stack.auth('c-sealed'));
    expect(watch.status).toBe(201);
    const placed = await stack.placeOrder(0, 'c-sealed', [{ productId, quantity: 1 }]);
    expect(placed.status).toBe(201);
    const patched = await fetch(`${stack.catalog[0]!.baseUrl}/products/${productId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(await stack.auth('admin')) },
      body: JSON.stringify({ priceCents: 1500 }),
    });
    expect(patched.status).toBe(200);

    const auth = await stack.auth('c-sealed');
    let messages: string[] = [];
    await waitFor(
      async () => {
        const res = await get(`${stack.notifier.baseUrl}/notifications?customerId=c-sealed`, auth);
        messages = (res.body.items as { message: string; productId: string | null }[])
          .filter((n) => n.productId === productId || n.message.includes('reserved'))
          .map((n) => n.message);
        return messages.length >= 2;
      },
      { timeoutMs: 15_000, description: 'both notifications delivered' },
    );
    // The customer reads them in clear…
    expect(messages).toEqual(
      expect.arrayContaining(['Your order is reserved; pay to confirm it.', `${productId} dropped from 2000 to 1500 cents`]),
    );
    // …the completed jobs Redis keeps hold them sealed under the current key…
    const [job] = await jobsOf(placed.body.id);
    expect(job?.message).toMatch(/^fe1\.k1\./);
    // …and nothing Redis holds or wrote to disk contains either text.
    const everything = await everyValue();
    const disk = await aofText();
    expect(everything).toContain(job!.message);
    expect(disk).toContain(job!.message);
    for (const text of ['Your order is reserved', 'pay to confirm', 'dropped from 2000 to 1500']) {
      expect(everything).not.toContain(text);
      expect(disk).not.toContain(text);
    }
  }, 60_000);

  it('rotates keys without losing a notification: a key retired too early dead-letters (named, 409 on re-drive) until it is back, and the re-drive moves the job to the new key', async () => {
    const productId = `rot-${randomUUID().slice(0, 6)}`;
    await stack.createProduct(productId, 10);
    const k1 = (stack.envOf('order') as Record<string, string>).FIELD_ENCRYPTION_KEYS!;
    const k2 = key('k2');
    const admin = await stack.auth('admin');

    // 1. Under k1: a notification job waits while the notifier is down.
    await stack.notifier.stop('SIGTERM');
    const first = await stack.placeOrder(0, 'c-rotate', [{ productId, quantity: 1 }]);
    expect(first.status).toBe(201);
    await waitFor(outboxDrained, { description: 'the first order relayed (its job sealed under k1)' });

    // 2. The mistake: the notifier comes back holding only k2. The k1 job cannot be opened: it
    //    retries, then dead-letters, visible to an admin with the key it needs — not lost, not garbled.
    await stack.restartNotifier({ FIELD_ENCRYPTION_KEYS: k2 });
    const [queued] = await jobsOf(first.body.id);
    expect(queued?.message).toMatch(/^fe1\.k1\./);
    let deadLetter:
      | { id: string; data: { data: { message: string | null } }; sealedWith: string; failedReason: string }
      | undefined;
    await waitFor(
      async () => {
        const res = await get(`${stack.notifier.baseUrl}/dead-letters`, admin);
        deadLetter = (res.body.items as NonNullable<typeof deadLetter>[]).find((d) => d.id === queued!.id);
        return deadLetter !== undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'the unopenable job to dead-letter' },
    );
    expect(deadLetter).toMatchObject({ sealedWith: 'k1', data: { data: { message: null } } });
    expect(deadLetter!.failedReason).toMatch(/key k1, which this process does not hold/);
    const refused = await post(`${stack.notifier.baseUrl}/dead-letters/${deadLetter!.id}/retry`, {}, admin);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'conflict', keyId: 'k1' });
    expect(await delivered(first.body.id)).toBe(0);

    // 3. The rotation done right: every service holds k2 first (it seals) and k1 (it still opens).
    const both = `${k2},${k1}`;
    await stack.notifier.stop('SIGTERM');
    for (const i of [0, 1]) {
      await stack.order[i]!.stop('SIGTERM');
      await stack.restartInstance('order', i, { FIELD_ENCRYPTION_KEYS: both });
    }
    await stack.restartNotifier({ FIELD_ENCRYPTION_KEYS: both });
    const second = await stack.placeOrder(1, 'c-rotate', [{ productId, quantity: 1 }]);
    expect(second.status).toBe(201);
    await waitFor(async () => (await delivered(second.body.id)) === 1, { timeoutMs: 15_000, description: 'second delivered' });
    expect((await jobsOf(second.body.id))[0]?.message).toMatch(/^fe1\.k2\./);
    // The dead letter re-driven now: its message moves to k2 and it is delivered.
    const retried = await post(`${stack.notifier.baseUrl}/dead-letters/${deadLetter!.id}/retry`, {}, admin);
    expect(retried.status).toBe(202);
    await waitFor(async () => (await delivered(first.body.id)) === 1, { timeoutMs: 15_000, description: 'first delivered' });
    expect((await jobsOf(first.body.id))[0]?.message).toMatch(/^fe1\.k2\./);

    // 4. k1 retired for real: nothing in Redis needs it any more, and the shop goes on under k2 alone.
    await stack.notifier.stop('SIGTERM');
    await stack.restartNotifier({ FIELD_ENCRYPTION_KEYS: k2 });
    const third = await stack.placeOrder(1, 'c-rotate', [{ productId, quantity: 1 }]);
    await waitFor(async () => (await delivered(third.body.id)) === 1, { timeoutMs: 15_000, description: 'third delivered' });
    for (const order of [first, second, third]) expect(await delivered(order.body.id)).toBe(1);
    const res = await get(`${stack.notifier.baseUrl}/notifications?orderId=${first.body.id}`, admin);
    expect(res.body.items[0].message).toBe('Your order is reserved; pay to confirm it.');
  }, 120_000);
});

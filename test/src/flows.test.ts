import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { keys, queuePrefix, queues } from '@storefront/contracts';
import { waitFor } from '@storefront/testing';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, idemKey, post, type Stack, startStack } from './stack.js';

/**
 * The shop's flows, on one standalone Redis and on a Redis Cluster (3 primaries, 3
 * replicas): the same processes, the same claims, only `REDIS_CLUSTER_NODES` differs.
 */
describe.each(['standalone', 'cluster'] as const)('on %s Redis', (topology) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ redis: topology });
  }, 60_000);
  afterAll(() => stack?.stop());

  describe('reading products', () => {
    it('serves miss then a cache tier, and another instance serves an admin price change within a pub/sub hop, long before its L1 TTL', async () => {
      const id = `read-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 5, 1000);
      const [c0, c1] = stack.catalog.map((c) => c.baseUrl) as [string, string];
      expect((await get(`${c1}/products/${id}`)).headers.get('x-cache')).toBe('miss');
      expect(['l1', 'l2']).toContain((await get(`${c1}/products/${id}`)).headers.get('x-cache'));
      const patch = await fetch(`${c0}/products/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', ...(await stack.auth('admin')) },
        body: JSON.stringify({ priceCents: 700 }),
      });
      expect(patch.status).toBe(200);
      // The invalidation travels by pub/sub (on a Cluster across the cluster bus too): c1 may
      // answer from its L1 copy until it arrives — the documented window — but never for
      // anything near L1's 5 s TTL.
      const changedAt = performance.now();
      await waitFor(async () => (await get(`${c1}/products/${id}`)).body.priceCents === 700, {
        timeoutMs: 1_000,
        intervalMs: 10,
        description: 'c1 to serve the new price',
      });
      expect(performance.now() - changedAt).toBeLessThan(1_000);
    });
  });

  describe('placing orders', () => {
    it('sells exactly the stock: 300 concurrent orders over both order instances for stock 100', async () => {
      const id = `sale-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 100, 500);
      const keys = Array.from({ length: 300 }, () => idemKey());
      const place = (i: number) => stack.placeOrder(i, `customer-${i}`, [{ productId: id, quantity: 1 }], keys[i]);
      const results = await Promise.all(keys.map((_, i) => place(i)));
      // On a loaded machine one of 300 may wait past catalog's lock wait: an honest 503 with
      // Retry-After (never anything else), which a client retries with the same key — as here.
      for (let round = 0; round < 5 && results.some((r) => r.status === 503); round++) {
        for (const [i, r] of results.entries()) {
          if (r.status !== 503) continue;
          expect(r.headers.get('retry-after'), JSON.stringify(r.body)).toMatch(/^\d+$/);
          results[i] = await place(i);
        }
      }
      const statuses = results.map((r) => r.status);
      expect(
        statuses.filter((s) => s !== 201 && s !== 409),
        JSON.stringify(results.find((r) => r.status >= 500)?.body),
      ).toEqual([]);
      expect(statuses.filter((s) => s === 201)).toHaveLength(100);
      expect(statuses.filter((s) => s === 409)).toHaveLength(200);
      expect(results.find((r) => r.status === 409)?.body).toMatchObject({ code: 'insufficient_stock', productId: id });
      expect(await stack.stockOf(id)).toBe(0);
      expect(
        await stack.count('order', 'SELECT count(*) AS n FROM orders WHERE items @> $1::jsonb', [
          JSON.stringify([{ productId: id }]),
        ]),
      ).toBe(100);
    }, 60_000);

    it('creates one order for 20 concurrent requests with one Idempotency-Key, and all callers get the same body', async () => {
      const id = `idem-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 50);
      const key = idemKey();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => stack.placeOrder(i, 'same-customer', [{ productId: id, quantity: 1 }], key)),
      );
      expect(new Set(results.map((r) => r.status))).toEqual(new Set([201]));
      expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(await stack.stockOf(id)).toBe(49);
      const reused = await stack.placeOrder(0, 'same-customer', [{ productId: id, quantity: 2 }], key);
      expect(reused.status).toBe(422);
    });

    it('rejects bad input with 400 naming the field, and writes nothing', async () => {
      const id = `bad-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 5);
      const before = await stack.count('order', 'SELECT count(*) AS n FROM orders');
      const cases: [unknown, string][] = [
        [{ items: [{ productId: id, quantity: '1' }] }, 'body.items.0.quantity'],
        [{ items: [{ productId: id, quantity: -1 }] }, 'body.items.0.quantity'],
        [{ items: [{ productId: id, quantity: 0 }] }, 'body.items.0.quantity'],
        [{ items: [{ productId: 'no-such-product', quantity: 1 }] }, 'body.items.0.productId'],
        [{ items: Array.from({ length: 500 }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) }, 'body.items'],
        [{ items: [{ productId: id, quantity: 1 }], discount: 100 }, 'body.discount'],
      ];
      for (const [body, path] of cases) {
        const res = await post(`${stack.order[0]!.baseUrl}/orders`, body, {
          'idempotency-key': idemKey(),
          ...(await stack.auth('c')),
        });
        expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
      }
      const noKey = await post(
        `${stack.order[0]!.baseUrl}/orders`,
        { items: [{ productId: id, quantity: 1 }] },
        await stack.auth('c'),
      );
      expect(noKey.status).toBe(400);
      expect(noKey.body.errors[0].path).toBe('header.idempotency-key');
      expect(await stack.count('order', 'SELECT count(*) AS n FROM orders')).toBe(before);
      expect(await stack.stockOf(id)).toBe(5);
    });

    it('produces exactly one notification per order event', async () => {
      const id = `note-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 20);
      const placed = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stack.placeOrder(i, `note-c${i}`, [{ productId: id, quantity: 1 }])),
      );
      const orderIds = placed.map((p) => p.body.id as string);
      await waitFor(
        async () =>
          (await stack.count(
            'notifier',
            "SELECT count(*) AS n FROM notifications WHERE kind = 'order.placed' AND order_id = ANY($1)",
            [orderIds],
          )) === 10,
        { timeoutMs: 15_000, description: 'ten notifications' },
      );
      const listed = await get(`${stack.notifier.baseUrl}/notifications?orderId=${orderIds[0]}`, await stack.auth('note-c0'));
      expect(listed.body.items).toHaveLength(1);
      expect(listed.body.items[0]).toMatchObject({ kind: 'order.placed', channel: 'record', customerId: 'note-c0' });
    });
  });

  describe('the dashboard', () => {
    it('shows who Redis refused (ACL LOG), per user, in its snapshot and as redis_acl_denials', async () => {
      // Someone guesses catalog's password, against the node that holds slot 0 (every primary's log is read).
      const port = stack.cluster ? await stack.cluster.primaryForSlot(0) : stack.redisServer.port;
      const guess = await promisify(execFile)(
        'redis-cli',
        ['-p', String(port), '--user', 'catalog', '--no-auth-warning', 'PING'],
        {
          env: { ...process.env, REDISCLI_AUTH: 'a-guess' },
        },
      ).catch((e: { stdout: string }) => e);
      expect(guess.stdout).toMatch(/WRONGPASS|NOAUTH/);
      const dashboard = await stack.startDashboard();
      try {
        const audit = await waitFor(
          async () => {
            const res = await get(`${dashboard.baseUrl}/api/state`, await stack.auth('admin'));
            const entries = (res.body?.aclAudit?.entries ?? []) as { user: string; reason: string; object: string }[];
            return entries.some((e) => e.user === 'catalog' && e.reason === 'auth') ? res.body.aclAudit : undefined;
          },
          { timeoutMs: 10_000, description: 'the failed AUTH in the ACL audit' },
        );
        expect(audit.byUser.catalog).toBeGreaterThanOrEqual(1);
        const metrics = await (await fetch(`${dashboard.baseUrl}/metrics`)).text();
        expect(metrics).toMatch(/^redis_acl_denials\{[^}]*user="catalog"[^}]*reason="auth"[^}]*\} [1-9]/m);
      } finally {
        await dashboard.stop();
      }
    });

    it(
      topology === 'cluster'
        ? 'shows which shard holds each queue, registry, lock and cache entry'
        : 'shows no shard map on one Redis',
      async () => {
        const id = `dash-${randomUUID().slice(0, 6)}`;
        await stack.createProduct(id, 5);
        const dashboard = await stack.startDashboard();
        try {
          const state = await waitFor(
            async () => {
              const res = await get(`${dashboard.baseUrl}/api/state`, await stack.auth('admin'));
              return res.status === 200 && res.body.stock.some((p: { id: string }) => p.id === id) ? res.body : undefined;
            },
            { timeoutMs: 10_000, description: 'a snapshot listing the new product' },
          );
          if (topology === 'standalone') {
            expect(state.shards).toBeNull();
            return;
          }
          const shards = state.shards as { primary: string; replicas: string[]; holds: string[] }[];
          const primaries = (await stack.cluster!.topology()).filter((n) => n.role === 'primary');
          expect(shards.map((s) => Number(s.primary.split(':')[1])).sort()).toEqual(primaries.map((p) => p.port).sort());
          for (const shard of shards) expect(shard.replicas).toHaveLength(1);
          const holder = (label: string) => shards.filter((s) => s.holds.includes(label)).map((s) => s.primary);
          for (const label of ['queue notifications', 'queue order-expiry', 'registry catalog', `lock ${id}`, `cache ${id}`]) {
            expect(holder(label), label).toHaveLength(1);
          }
          // Each label on the primary that really serves its key's slot.
          const lockPort = await stack.cluster!.primaryForSlot(calculateSlot(keys.catalog.stockLock(id)));
          expect(holder(`lock ${id}`)[0]).toBe(`127.0.0.1:${lockPort}`);
          expect(holder('queue notifications')).not.toEqual(holder('queue order-expiry'));
        } finally {
          await dashboard.stop('SIGTERM');
        }
      },
    );
  });

  describe.runIf(topology === 'cluster')('spreading over shards', () => {
    it("after one order the two queues' keys sit on different primaries, each queue's on one slot", async () => {
      const id = `shard-${randomUUID().slice(0, 6)}`;
      await stack.createProduct(id, 5);
      const placed = await stack.placeOrder(0, 'shard-c', [{ productId: id, quantity: 1 }]);
      expect(placed.status).toBe(201);
      await waitFor(
        async () =>
          (await stack.count('notifier', 'SELECT count(*) AS n FROM notifications WHERE order_id = $1', [placed.body.id])) === 1,
        { timeoutMs: 15_000, description: 'the order notified' },
      );
      const notifications = await stack.cluster!.primariesHolding(`${queuePrefix(queues.notifications)}:*`);
      const expiries = await stack.cluster!.primariesHolding(`${queuePrefix(queues.orderExpiry)}:*`);
      expect(notifications).toHaveLength(1);
      expect(expiries).toHaveLength(1);
      expect(notifications[0]).not.toBe(expiries[0]);
    });
  });
});

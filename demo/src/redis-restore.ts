#!/usr/bin/env node
// `pnpm redis:restore <file> [--flush | --replace]`: put a snapshot taken by `pnpm redis:backup`
// back into the coordination Redis, over the network, on any node set the services use
// (standalone or Sentinel's primary; the replica follows). The snapshot is loaded into a
// private redis-server on loopback, and every key is copied with its TTL (`DUMP` + `RESTORE`).
//
// The target must be empty unless --flush (empty it first: what a restore after losing the
// data wants) or --replace (overwrite the snapshot's keys, keep the others). With
// ORDER_DATABASE_URL (order's own role), order's outbox rows published since the snapshot
// are re-driven, so the jobs Redis lost with the newer data are queued again (job ids,
// delivery records and ranking markers make the repeats harmless). docs/operations.md,
// "Backup and restore".
//
// Env: REDIS_URL with the `ops` user, REDIS_SENTINELS / REDIS_SENTINEL_NAME, REDIS_TLS_CA_FILE.
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRedis, type RedisClient, toRedisConfig } from '@storefront/redis-kit';
import { startRedisServer } from '@storefront/testing';
import { Redis } from 'ioredis';
import pg from 'pg';

const BATCH = 500;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Copy every key of `from` to `to` with its remaining TTL; `replace` overwrites keys `to` holds. */
const copyKeys = async (from: Redis, to: RedisClient, replace: boolean, progress: (n: number) => void) => {
  let copied = 0;
  for await (const batch of from.scanStream({ count: BATCH })) {
    const keys = batch as string[];
    const reads = from.pipeline();
    for (const key of keys) reads.dumpBuffer(key).pttl(key);
    const replies = (await reads.exec()) ?? [];
    await Promise.all(
      keys.map(async (key, i) => {
        const [, dump] = replies[i * 2] ?? [];
        const [, ttl] = replies[i * 2 + 1] ?? [];
        if (!dump || (ttl as number) === -2) return; // expired meanwhile
        const args: (string | number | Buffer)[] = [key, Math.max(ttl as number, 0), dump as Buffer];
        if (replace) args.push('REPLACE');
        await to.call('RESTORE', ...args);
      }),
    );
    copied += keys.length;
    progress(copied);
  }
  return copied;
};

const main = async () => {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const flush = args.includes('--flush');
  const replace = args.includes('--replace');
  if (!file) throw new Error('usage: pnpm redis:restore <file> [--flush | --replace]');
  if (flush && replace) throw new Error('--flush and --replace exclude each other');
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is required (the ops user: redis://ops:<password>@host:port)');
  const snapshot = resolve(file);
  const meta = JSON.parse(await readFile(`${snapshot}.json`, 'utf8').catch(() => '{}')) as { takenAt?: string };
  const caFile = process.env.REDIS_TLS_CA_FILE;
  const target = createRedis(
    toRedisConfig({
      url,
      sentinels: list(process.env.REDIS_SENTINELS),
      sentinelName: process.env.REDIS_SENTINEL_NAME,
      ...(caFile && url.startsWith('rediss:') ? { tls: { ca: await readFile(caFile, 'utf8') } } : {}),
    }),
    { commandTimeoutMs: 10_000 },
  );
  target.on('error', () => {});
  const dir = await mkdtemp(join(tmpdir(), 'storefront-restore-'));
  await copyFile(snapshot, join(dir, 'dump.rdb'));
  // The snapshot, loaded by a private redis-server on loopback (no persistence of its own).
  const loader = await startRedisServer({ dir, config: ['dbfilename dump.rdb'], startTimeoutMs: 120_000 });
  const from = new Redis(loader.adminUrl);
  try {
    const total = await from.dbsize();
    const present = await target.dbsize();
    if (present > 0 && !flush && !replace) {
      throw new Error(
        `the target holds ${present} keys: pass --flush to empty it first, or --replace to overwrite the snapshot's keys`,
      );
    }
    if (flush) await target.flushall();
    process.stderr.write(`restoring ${total} keys from ${snapshot}${meta.takenAt ? ` (taken ${meta.takenAt})` : ''}…\n`);
    let last = 0;
    const copied = await copyKeys(from, target, replace, (n) => {
      if (n - last >= 5_000 || n === total) {
        process.stderr.write(`  ${n}/${total} keys\n`);
        last = n;
      }
    });
    let redriven: number | undefined;
    if (process.env.ORDER_DATABASE_URL && meta.takenAt) {
      const db = new pg.Client({ connectionString: process.env.ORDER_DATABASE_URL });
      await db.connect();
      try {
        // A margin before the snapshot: re-driving a row whose jobs the snapshot holds is harmless.
        const result = await db.query(
          "UPDATE outbox SET published_at = NULL WHERE published_at >= $1::timestamptz - interval '5 seconds'",
          [meta.takenAt],
        );
        redriven = result.rowCount ?? 0;
      } finally {
        await db.end();
      }
    }
    process.stdout.write(
      `restored ${copied} keys into ${flush ? 'the emptied' : 'the'} target${redriven === undefined ? '' : `; ${redriven} outbox rows re-driven`}\n`,
    );
    if (redriven === undefined) {
      process.stdout.write(
        `jobs queued after ${meta.takenAt ?? 'the snapshot'} are not in it: re-drive order's outbox (ORDER_DATABASE_URL) or see docs/operations.md\n`,
      );
    }
  } finally {
    from.disconnect();
    target.disconnect();
    await loader.stop();
  }
};

main().catch((error: Error) => {
  process.stderr.write(`redis:restore: ${error.message}\n`);
  process.exit(1);
});

#!/usr/bin/env node
// `pnpm redis:backup [file]`: a point-in-time RDB snapshot of the coordination Redis, taken
// over the replication protocol (`redis-cli --rdb`: the server forks, writes its dataset and
// streams it; no access to its disk needed), plus `<file>.json` saying when it was taken.
// docs/operations.md ("Backup and restore") says what a restore from it does.
//
// Env: REDIS_URL with the break-glass `ops` user (redis://ops:<password>@host:port; rediss://
// for TLS, with REDIS_TLS_CA_FILE), and REDIS_SENTINELS to back up whichever node is primary.
// The password reaches redis-cli through its environment (REDISCLI_AUTH), never argv.
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** host:port of the node to snapshot: the URL's, or the primary the Sentinels name now. */
const source = async (url: URL, sentinels: string | undefined, tls: { ca?: string } | undefined) => {
  if (!sentinels) return { host: url.hostname, port: Number(url.port || 6379) };
  for (const entry of sentinels
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.lastIndexOf(':');
    const client = new Redis({
      host: entry.slice(0, at),
      port: Number(entry.slice(at + 1)),
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      ...(tls ? { tls } : {}),
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', process.env.REDIS_SENTINEL_NAME ?? 'storefront')) as
        | [string, string]
        | null;
      if (addr) return { host: addr[0], port: Number(addr[1]) };
    } catch {
      // try the next Sentinel
    } finally {
      client.disconnect();
    }
  }
  throw new Error('no Sentinel in REDIS_SENTINELS named a primary');
};

const main = async () => {
  const raw = process.env.REDIS_URL;
  if (!raw) throw new Error('REDIS_URL is required (the ops user: redis://ops:<password>@host:port)');
  const url = new URL(raw);
  const secure = url.protocol === 'rediss:';
  const caFile = process.env.REDIS_TLS_CA_FILE;
  const tls = secure ? (caFile ? { ca: await readFile(caFile, 'utf8') } : {}) : undefined;
  const file = resolve(process.argv[2] ?? `backups/redis-${new Date().toISOString().replaceAll(':', '-')}.rdb`);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const node = await source(url, process.env.REDIS_SENTINELS, tls);
  const takenAt = new Date();
  process.stderr.write(`backing up ${node.host}:${node.port} to ${file}…\n`);
  const args = [
    '-h',
    node.host,
    '-p',
    String(node.port),
    ...(url.username ? ['--user', decodeURIComponent(url.username)] : []),
    ...(secure ? ['--tls', ...(caFile ? ['--cacert', caFile] : [])] : []),
    '--no-auth-warning',
    '--rdb',
    file,
  ];
  try {
    await run('redis-cli', args, {
      env: { ...process.env, REDISCLI_AUTH: decodeURIComponent(url.password) },
      timeout: 10 * 60_000,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    throw new Error(
      e.code === 'ENOENT'
        ? 'redis-cli not found: install it (apt-get install -y redis-tools)'
        : `redis-cli --rdb failed: ${(e.stderr || e.stdout || e.message).trim()}`,
    );
  }
  const { size } = await stat(file);
  await writeFile(
    `${file}.json`,
    `${JSON.stringify({ takenAt: takenAt.toISOString(), source: `${node.host}:${node.port}`, bytes: size }, null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  process.stdout.write(`${file}: ${size} bytes, taken ${takenAt.toISOString()} from ${node.host}:${node.port}\n`);
};

main().catch((error: Error) => {
  process.stderr.write(`redis:backup: ${error.message}\n`);
  process.exit(1);
});

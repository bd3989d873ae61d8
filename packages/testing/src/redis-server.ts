import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infoFields, rememberAdmin, rememberTls } from './admin-client.js';
import { stopChild, track } from './child-processes.js';
import { freePort } from './free-port.js';
import { type TestCertificates, tlsConfig } from './tls.js';

/** A redis-server (or sentinel) process this harness started and owns. */
export interface RedisProcess {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (`rediss://` with `tls`) */
  readonly url: string;
  /** The URL with the harness's own admin ACL user (works when the default user is off). */
  readonly adminUrl: string;
  readonly pid: number;
  /** Its private working directory (config, AOF, nodes.conf). */
  readonly dir: string;
  readonly child: ChildProcess;
  /** SIGTERM (or `signal`), wait for exit, remove the directory. Safe to call twice. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Kill it (SIGKILL unless `signal`) and start it again on the same port, with the same
   * options and directory: it reloads its AOF, or starts with no data when `empty`
   * (what a replaced node does). Resolves with the new process; this one is spent.
   */
  restart(options?: { signal?: NodeJS.Signals; empty?: boolean; config?: string[] }): Promise<RedisProcess>;
}

/** Options for {@link startRedisServer}. */
export interface StartRedisOptions {
  /** Extra config lines, e.g. `['maxmemory-policy noeviction']`. */
  config?: string[];
  /**
   * ACL users (the content of a rendered users.acl). Written to the server's directory
   * and loaded with `aclfile`; the harness's own admin user is added to it.
   */
  acl?: string;
  /** Run as a Sentinel. Default false. */
  sentinel?: boolean;
  /** Port to use; default a free one. */
  port?: number;
  /** Give up waiting for PONG after this long. Default 10 s. */
  startTimeoutMs?: number;
  /** Working directory to use (kept on stop only by `restart`); default a fresh temp dir. */
  dir?: string;
  /** The harness admin user's password; default a random one per server (a Cluster shares one). */
  adminPassword?: string;
  /** Speak TLS only, with these certificates (`createTestCertificates`): `url` is then `rediss://`. */
  tls?: TestCertificates;
}

/** ACL user the harness adds to every data node it starts, for its own admin commands. */
export const HARNESS_USER = 'storefront-harness';

/** The redis-server binary: `REDIS_SERVER_BIN`, else `redis-server` on PATH. */
export const redisServerBin = (): string => process.env.REDIS_SERVER_BIN ?? 'redis-server';

const spawnOnce = async (
  port: number,
  options: StartRedisOptions,
  adminPassword = randomBytes(12).toString('hex'),
): Promise<RedisProcess> => {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'storefront-redis-')));
  // The harness's own admin user, so it can still probe and stop a server whose tests
  // turn the default user off. Sentinels keep the default user.
  if (!options.sentinel) rememberAdmin(port, HARNESS_USER, adminPassword);
  if (options.tls) rememberTls(port, options.tls);
  const lines = [
    ...(options.tls ? tlsConfig(port, options.tls) : [`port ${port}`]),
    'bind 127.0.0.1',
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    'daemonize no',
    'protected-mode yes',
    'logfile ""',
    ...(options.sentinel || options.acl !== undefined ? [] : [`user ${HARNESS_USER} on >${adminPassword} ~* &* +@all`]),
    ...(options.acl === undefined ? [] : [`aclfile ${join(dir, 'users.acl')}`]),
    ...(options.config ?? []),
  ];
  if (options.acl !== undefined) {
    // Redis refuses users in redis.conf together with an aclfile: the admin user goes in the file.
    await writeFile(join(dir, 'users.acl'), `${options.acl.trim()}\nuser ${HARNESS_USER} on >${adminPassword} ~* &* +@all\n`);
  }
  const confPath = join(dir, options.sentinel ? 'sentinel.conf' : 'redis.conf');
  await writeFile(confPath, `${lines.join('\n')}\n`);
  const args = options.sentinel ? [confPath, '--sentinel'] : [confPath];
  const child = track(spawn(redisServerBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  });
  child.stderr?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(
              `${redisServerBin()} not found: install redis-server (apt-get install -y redis-server) or set REDIS_SERVER_BIN`,
            )
          : error,
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited with ${code}: ${output.trim()}`)));
  });
  spawnError.catch(() => {});

  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  const ready = (async () => {
    for (;;) {
      try {
        // Ask who answered: a server someone else runs on this port must not pass for ours.
        if ((await infoFields(port, 'server')).process_id === String(child.pid)) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not become ready: ${output.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (error) {
    await stopChild(child, 'SIGKILL');
    if (!options.dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped: Promise<void> | undefined;
  const scheme = options.tls ? 'rediss' : 'redis';
  return {
    host: '127.0.0.1',
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    adminUrl: options.sentinel
      ? `${scheme}://127.0.0.1:${port}`
      : `${scheme}://${HARNESS_USER}:${adminPassword}@127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    dir,
    child,
    stop: (signal = 'SIGTERM') => {
      stopped ??= (async () => {
        await stopChild(child, signal);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
    restart: async ({ signal = 'SIGKILL', empty = false, config } = {}) => {
      stopped ??= stopChild(child, signal);
      await stopped;
      if (empty) await rm(join(dir, 'appendonlydir'), { recursive: true, force: true });
      // Same admin password: clients holding `adminUrl` reconnect to the new process.
      return spawnOnce(port, { ...options, dir, ...(config ? { config } : {}) }, adminPassword);
    },
  };
};

/**
 * Start a private redis-server on a free loopback port, in its own temp directory, with
 * no persistence unless `config` asks for it. Retries with another port if the chosen
 * one (or, for a Cluster node — `cluster-enabled yes` in `config` —, its bus port) was
 * taken in the meantime.
 */
export const startRedisServer = async (options: StartRedisOptions = {}): Promise<RedisProcess> => {
  let lastError: unknown;
  const clusterBus = options.config?.some((line) => /^\s*cluster-enabled\s+yes\b/i.test(line)) ?? false;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort({ clusterBus }));
    try {
      return await spawnOnce(port, options, options.adminPassword);
    } catch (error) {
      lastError = error;
      if (options.port !== undefined || !/Address already in use/i.test(String((error as Error).message))) throw error;
    }
  }
  throw lastError;
};

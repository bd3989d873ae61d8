import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createShopCredentials,
  createTestDatabase,
  freePort,
  type PostgresServer,
  type RedisProcess,
  type ServiceProcess,
  startEmbeddedPostgres,
  startRedisServer,
  startServiceProcess,
} from '@storefront/testing';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A result row of the report. */
export interface Row {
  name: string;
  measured: string;
  ceiling: string;
  /** measured / ceiling (higher is better unless `lowerIsBetter`). */
  ratio: number | null;
  goal: string;
  met: boolean | null;
  /** A correctness check inside the benchmark; a false here fails the run. */
  correct: boolean;
  note?: string;
}

/**
 * `BENCH_SERVICE_ENV='{"NAME":"value",…}'`: variables added to every service the bench starts, to
 * measure a setting (`NODE_OPTIONS`, a service's own variable) without editing the bench
 * (docs/benchmarks.md). A value that is not a JSON object of strings stops the run.
 */
const extraServiceEnv = (): Record<string, string> => {
  const raw = process.env.BENCH_SERVICE_ENV;
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    typeof parsed !== 'object' ||
    Array.isArray(parsed) ||
    Object.values(parsed).some((v) => typeof v !== 'string')
  ) {
    throw new Error(`BENCH_SERVICE_ENV must be a JSON object of strings, e.g. '{"NODE_OPTIONS":"--max-semi-space-size=64"}'`);
  }
  return parsed as Record<string, string>;
};

/**
 * `BENCH_SERVICES_FROM=<dir>`: start the services of another built checkout (its
 * `services/<name>/dist/main.js`) instead of this one's — the same load, ceilings and checks
 * against an earlier version, to say "n times faster than before" from runs in the same
 * conditions (docs/benchmarks.md). A directory without the three built services stops the run.
 */
const servicesRoot = (): string => {
  const from = process.env.BENCH_SERVICES_FROM;
  if (!from) return root;
  const dir = resolve(from);
  const missing = ['catalog', 'order', 'notifier'].filter((name) => !existsSync(join(dir, 'services', name, 'dist', 'main.js')));
  if (missing.length > 0) {
    throw new Error(
      `BENCH_SERVICES_FROM=${from}: no built ${missing.join(', ')} there (services/<name>/dist/main.js: run pnpm install and pnpm build in that checkout)`,
    );
  }
  return `${dir}/`;
};

/**
 * The settings that make a run measure something other than this checkout as it is
 * (`BENCH_SERVICE_ENV`, `BENCH_SERVICES_FROM`), as `NAME=value` lines; such a run leaves the
 * docs' table and `bench/results/latest.json` alone.
 */
export const benchVariant = (): string[] =>
  ['BENCH_SERVICE_ENV', 'BENCH_SERVICES_FROM'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : []));

/** The servers every benchmark shares: a private Redis and an embedded Postgres. */
export const startBenchEnv = async () => {
  const serviceEnv = extraServiceEnv();
  const services = servicesRoot();
  const redis: RedisProcess = await startRedisServer({ config: ['maxmemory-policy noeviction'] });
  const postgres: PostgresServer = await startEmbeddedPostgres();
  const processes: ServiceProcess[] = [];
  const credentials = await createShopCredentials();
  const adminToken = await credentials.identity.token('bench-admin', { admin: true });
  return {
    redis,
    postgres,
    /** `authorization` header of the bench's admin. */
    admin: { authorization: `Bearer ${adminToken}` },
    /** `count` customers' bearer tokens (orders act for the token's subject). */
    customerTokens: (count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => credentials.identity.token(`bench-c${i}`))),
    database: (label: string) => createTestDatabase(postgres.url, label),
    /** Start a built service on a free port, logging at info as in production (its lines discarded unread; readiness from /health/ready). */
    async service(name: 'catalog' | 'order' | 'notifier', env: Record<string, string>): Promise<ServiceProcess> {
      const port = await freePort();
      const proc = await startServiceProcess({
        entry: `${services}services/${name}/dist/main.js`,
        env: {
          PORT: String(port),
          REDIS_URL: redis.url,
          ...credentials.env[name],
          // The load comes from one address (loopback): the per-address limit would cap the bench.
          RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '100000000',
          LOG_LEVEL: 'info',
          REGISTRY_TTL_MS: '3000',
          ...env,
          ...serviceEnv,
        },
        readyPath: '/health/ready',
        discardLogs: true,
        // BENCH_PROFILE_DIR=<dir>: every service writes a CPU profile there when it stops (docs/benchmarks.md).
        nodeArgs: process.env.BENCH_PROFILE_DIR
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, `--cpu-prof-name=${name}-${port}.cpuprofile`]
          : [],
      });
      processes.push(proc);
      return proc;
    },
    async stop() {
      await Promise.all(processes.map((p) => p.stop('SIGTERM').catch(() => {})));
      await redis.stop();
      await postgres.stop();
    },
  };
};
export type BenchEnv = Awaited<ReturnType<typeof startBenchEnv>>;

/** Settings for a full or a quick (smoke) run. */
export interface Budget {
  quick: boolean;
  rounds: number;
  /** Seconds per HTTP load run. */
  httpSeconds: number;
  /** Milliseconds per in-process loop. */
  loopMs: number;
  log: (line: string) => void;
}

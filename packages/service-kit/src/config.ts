import { z } from 'zod';

/** Thrown by {@link loadConfig}; its message is one line naming every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const port = z.coerce.number().int().min(0).max(65535);
const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' });
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' });
const commaList = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * Variables every service reads. Services extend this with their own
 * (`baseEnv.extend({ ... })`). Defaults are chosen for local development.
 */
export const baseEnv = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** pino level. Default `info`. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port,
  /** Host name other instances use to reach this one (registered in the registry). Default: HOST. */
  ADVERTISE_HOST: z.string().min(1).optional(),
  /** Max JSON body size. Default `100kb`. */
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'must look like 100kb')
    .default('100kb'),
  /** How long shutdown may take before the process exits anyway. Default 10 s. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** A duration: `500ms`, `30s`, `15m`, `1h`, or a plain number of milliseconds. Parsed to ms. */
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)?$/, 'must be a duration like 500ms, 30s, 15m or 1h')
  .transform((v) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h)?$/.exec(v) ?? [];
    return Number(amount) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS];
  });

/** Reusable field schemas for service-specific variables. */
export const envFields = { port, redisUrl, postgresUrl, httpUrl, commaList, duration };

/**
 * Validate `env` against `schema` and return a frozen config. On failure, throws a
 * {@link ConfigError} whose message names each bad variable and the rule it broke
 * (never its value: a value may be a secret).
 */
export const loadConfig = <S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.output<S>> => {
  const result = schema.safeParse(env);
  if (!result.success) {
    const reasons = result.error.issues.map((i) => `${i.path.join('.') || '(env)'} ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${reasons.join('; ')}`);
  }
  return Object.freeze(result.data);
};

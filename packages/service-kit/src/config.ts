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

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
const jwkShape = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  alg: z.string().optional(),
  d: z.string().optional(),
});
/** A private JWK (JSON) — it has the `d` member. */
const privateJwk = json(jwkShape.refine((k) => k.d !== undefined, 'must be a private JWK (with "d")'));
/** A JWK Set (JSON) of public keys only: a verifier must never hold what could sign. */
const publicJwks = json(
  z.object({
    keys: z
      .array(jwkShape.refine((k) => k.d === undefined, 'must hold public keys only (no "d")'))
      .min(1, 'must list at least one key'),
  }),
);

/** Reusable field schemas for service-specific variables. */
export const envFields = { port, redisUrl, postgresUrl, httpUrl, commaList, duration, privateJwk, publicJwks };

/**
 * The marker every placeholder secret in `.env.example` carries. A value containing it
 * means the example was copied without changing it; start-up refuses it.
 */
export const PLACEHOLDER_MARKER = 'change-me';

/**
 * Validate `env` against `schema` and return a frozen config. On failure, throws a
 * {@link ConfigError} whose message names each bad variable and the rule it broke
 * (never its value: a value may be a secret). Any variable still holding the `.env.example`
 * placeholder ({@link PLACEHOLDER_MARKER}) is refused too.
 */
export const loadConfig = <S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.output<S>> => {
  const result = schema.safeParse(env);
  const placeholders = Object.entries(env)
    .filter(([, value]) => value?.includes(PLACEHOLDER_MARKER))
    .map(([name]) => `${name} still holds the placeholder from .env.example (set a real secret)`);
  if (!result.success || placeholders.length > 0) {
    const reasons = [...placeholders, ...(result.error?.issues ?? []).map((i) => `${i.path.join('.') || '(env)'} ${i.message}`)];
    throw new ConfigError(`Invalid configuration: ${reasons.join('; ')}`);
  }
  return Object.freeze(result.data);
};

import { serviceEnv, timeoutEnv } from '@storefront/service-defaults';
import { envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const CatalogEnv = serviceEnv.extend({
  /** Default 3101. */
  PORT: envFields.port.default(3101),
  /** Catalog's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
  /**
   * Reservations and releases one caller (an order instance's address) may send per minute:
   * a backstop against a runaway or compromised caller, far above what the shop places.
   * Default 30 000.
   */
  RESERVATION_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(30_000),
  /** Product cache freshness in Redis. Default 60 000 ms. */
  CACHE_TTL_MS: z.coerce.number().int().min(100).default(60_000),
  /** In-process (L1) cache freshness. Default 5 000 ms. */
  CACHE_L1_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  /**
   * Product values whose JSON is at least this many bytes are stored Brotli-compressed in the
   * cache Redis (long descriptions). 0 turns compression off. Default 1 024.
   */
  CACHE_COMPRESS_MIN_BYTES: z.coerce.number().int().min(0).default(1024),
  /** `off` reads Postgres on every request (for comparisons; benchmarks). Default `on`. */
  CATALOG_CACHE: z.enum(['on', 'off']).default('on'),
  /** Lock lease TTL for stock changes. Default 5 000 ms. */
  STOCK_LOCK_TTL_MS: z.coerce.number().int().min(100).default(5_000),
  /** How long a stock change waits for its locks before answering 503 (service-defaults' timeouts). */
  STOCK_LOCK_WAIT: timeoutEnv.STOCK_LOCK_WAIT,
});

export type CatalogConfig = z.output<typeof CatalogEnv>;

/**
 * Catalog's Postgres session limits, so a stalled stock-lock holder (a paused process, a
 * long GC) cannot block the healthy instances beyond its lock TTL: Postgres ends a session
 * idle in its transaction for one lock TTL (its row locks go with it; its late write is
 * refused by the fence anyway), and a statement waits for a row lock at most two TTLs
 * before answering 503.
 */
export const databaseSessionLimits = (config: Pick<CatalogConfig, 'STOCK_LOCK_TTL_MS'>) => ({
  idleInTransactionTimeoutMs: config.STOCK_LOCK_TTL_MS,
  lockTimeoutMs: 2 * config.STOCK_LOCK_TTL_MS,
});

/** Read and validate catalog's configuration (only this file reads `process.env`). */
export const loadCatalogConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<CatalogConfig> => loadConfig(CatalogEnv, env);

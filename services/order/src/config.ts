import { baseEnv, envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const OrderEnv = baseEnv.extend({
  /** Default 3201. */
  PORT: envFields.port.default(3201),
  /** Order's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
  /** How long an order may stay unpaid before it expires and its stock is released. Default 15m. */
  ORDER_PAYMENT_TIMEOUT: envFields.duration.default(15 * 60_000),
  /** Orders one customer may place per minute (across all instances). Default 60. */
  ORDER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(60),
  /** Timeout of one read from catalog (prices). Reservations wait up to 15 s. Default 2s. */
  CATALOG_TIMEOUT: envFields.duration.default(2_000),
  /** Registry record TTL. Default 5 000 ms. */
  REGISTRY_TTL_MS: z.coerce.number().int().min(300).default(5000),
  /** How often discovery re-reads the registry (it also hears changes at once). Default 1 000 ms. */
  DISCOVERY_REFRESH_MS: z.coerce.number().int().min(50).default(1000),
});

export type OrderConfig = z.output<typeof OrderEnv>;

/** Read and validate order's configuration (only this file reads `process.env`). */
export const loadOrderConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<OrderConfig> => loadConfig(OrderEnv, env);

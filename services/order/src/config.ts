import { checkTimeouts, serviceEnv, timeoutEnv } from '@storefront/service-defaults';
import { envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const OrderEnv = serviceEnv
  .extend({
    /** Default 3201. */
    PORT: envFields.port.default(3201),
    /** Order's own Postgres database. */
    DATABASE_URL: envFields.postgresUrl,
    /** How long an order may stay unpaid before it expires and its stock is released. Default 15m. */
    ORDER_PAYMENT_TIMEOUT: envFields.duration.default(15 * 60_000),
    /**
     * How often each instance repairs from Postgres: unpaid orders past their deadline (the
     * backstop for a delayed expiry job Redis lost) and reservations whose order was never
     * written (an instance died between reserving and committing). Default 30s.
     */
    ORDER_SWEEP_INTERVAL: envFields.duration.default(30_000),
    /** Orders one customer may place per minute (across all instances). Default 60. */
    ORDER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(60),
    /** The order path's timeouts, which must nest (service-defaults' timeouts.ts). */
    ...timeoutEnv,
  })
  .superRefine(checkTimeouts);

export type OrderConfig = z.output<typeof OrderEnv>;

/** Read and validate order's configuration (only this file reads `process.env`). */
export const loadOrderConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<OrderConfig> => loadConfig(OrderEnv, env);

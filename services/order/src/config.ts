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
    /**
     * How often each instance checks that Redis still holds what order wrote there (redis-kit's
     * `DataLossMarker`); when it does not (a node replaced empty, a restart without
     * persistence), the outbox rows of the last `ORDER_REDIS_LOSS_REDRIVE_WINDOW` are relayed
     * again, so the notification and expiry jobs Redis lost are queued anew. Default 5s.
     */
    ORDER_REDIS_LOSS_CHECK_INTERVAL: envFields.duration.default(5_000),
    /**
     * How far back a detected loss re-drives the outbox: a job published longer ago that had
     * not run by then is not queued again (docs/patterns/data-loss.md). Default 2m.
     */
    ORDER_REDIS_LOSS_REDRIVE_WINDOW: envFields.duration.default(2 * 60_000),
    /** Orders one customer may place per minute (across all instances). Default 60. */
    ORDER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(60),
    /** The order path's timeouts, which must nest (service-defaults' timeouts.ts). */
    ...timeoutEnv,
  })
  .superRefine(checkTimeouts);

export type OrderConfig = z.output<typeof OrderEnv>;

/** Read and validate order's configuration (only this file reads `process.env`). */
export const loadOrderConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<OrderConfig> => loadConfig(OrderEnv, env);

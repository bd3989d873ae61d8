import { baseEnv, envFields, loadConfig } from '@storefront/service-kit';
import type { z } from 'zod';

const OrderEnv = baseEnv.extend({
  /** Default 3201. */
  PORT: envFields.port.default(3201),
  /** This service's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
});

export type OrderConfig = z.output<typeof OrderEnv>;

/** Read and validate order's configuration (only this file reads `process.env`). */
export const loadOrderConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<OrderConfig> => loadConfig(OrderEnv, env);

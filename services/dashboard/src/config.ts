import { serviceEnv } from '@storefront/service-defaults';
import { envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const DashboardEnv = serviceEnv.extend({
  /** Default 3000. */
  PORT: envFields.port.default(3000),
  /** How often the page gets a new snapshot. Default 1 000 ms. */
  DASHBOARD_REFRESH_MS: z.coerce.number().int().min(200).default(1000),
});

export type DashboardConfig = z.output<typeof DashboardEnv>;

/** Read and validate the dashboard's configuration (only this file reads `process.env`). */
export const loadDashboardConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<DashboardConfig> =>
  loadConfig(DashboardEnv, env);

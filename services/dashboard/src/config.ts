import { serviceEnv } from '@storefront/service-defaults';
import { envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const DashboardEnv = serviceEnv.extend({
  /** Default 3000. */
  PORT: envFields.port.default(3000),
  /** How often the page gets a new snapshot. Default 1 000 ms. */
  DASHBOARD_REFRESH_MS: z.coerce.number().int().min(200).default(1000),
  /**
   * The bearer token trace exporters (the services, or a Collector) send to `POST /v1/traces`.
   * Unset: the dashboard receives no traces (docker-compose sends them to Jaeger instead).
   */
  TRACE_INGEST_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
});

export type DashboardConfig = z.output<typeof DashboardEnv>;

/** Read and validate the dashboard's configuration (only this file reads `process.env`). */
export const loadDashboardConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<DashboardConfig> =>
  loadConfig(DashboardEnv, env);

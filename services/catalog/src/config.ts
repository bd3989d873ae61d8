import { baseEnv, envFields, loadConfig } from '@storefront/service-kit';
import type { z } from 'zod';

const CatalogEnv = baseEnv.extend({
  /** Default 3101. */
  PORT: envFields.port.default(3101),
  /** This service's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
});

export type CatalogConfig = z.output<typeof CatalogEnv>;

/** Read and validate catalog's configuration (only this file reads `process.env`). */
export const loadCatalogConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<CatalogConfig> => loadConfig(CatalogEnv, env);

import { baseEnv, envFields, loadConfig } from '@storefront/service-kit';
import type { z } from 'zod';

const NotifierEnv = baseEnv.extend({
  /** Default 3301. */
  PORT: envFields.port.default(3301),
  /** This service's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
});

export type NotifierConfig = z.output<typeof NotifierEnv>;

/** Read and validate notifier's configuration (only this file reads `process.env`). */
export const loadNotifierConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<NotifierConfig> =>
  loadConfig(NotifierEnv, env);

import { serviceEnv } from '@storefront/service-defaults';
import { envFields, loadConfig } from '@storefront/service-kit';
import { z } from 'zod';

const NotifierEnv = serviceEnv.extend({
  /** Default 3301. */
  PORT: envFields.port.default(3301),
  /** Notifier's own Postgres database. */
  DATABASE_URL: envFields.postgresUrl,
  /** Where to POST notifications. Without it, notifications are only recorded (readable at GET /notifications). */
  NOTIFY_WEBHOOK_URL: envFields.httpUrl.optional(),
  /** Timeout of one webhook call. Default 2s. */
  NOTIFY_WEBHOOK_TIMEOUT: envFields.duration.default(2_000),
  /** Deliveries per second (BullMQ limiter). Default 200. */
  NOTIFY_RATE_PER_SECOND: z.coerce.number().int().min(1).default(200),
  /**
   * Jobs worked at once. Default 32. A job mostly waits (a webhook call, its record's commit)
   * and the records of jobs waiting together share one INSERT: with the bench's workers warm,
   * 32 worked 1.5–1.9x the jobs/s of 8 at two thirds of the CPU per job (docs/benchmarks.md,
   * "8 or 32, warm"); the chaos suite's failovers lose nothing at 32 (docs/chaos.md).
   */
  NOTIFY_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(32),
  /** Watches one customer may add per minute (across all instances). Default 30. */
  WATCH_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /** After this long a job whose worker died is run again. Default 30s. */
  NOTIFY_STALLED_INTERVAL: envFields.duration.default(30_000),
});

export type NotifierConfig = z.output<typeof NotifierEnv>;

/** Read and validate the notifier's configuration (only this file reads `process.env`). */
export const loadNotifierConfig = (env: NodeJS.ProcessEnv = process.env): Readonly<NotifierConfig> =>
  loadConfig(NotifierEnv, env);

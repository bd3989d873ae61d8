import type { TestProject } from 'vitest/node';
import type {} from './index.js';
import { startPostgres } from './postgres.js';
import { startRedisServer } from './redis-server.js';

/**
 * Vitest global setup: one private redis-server (or the user's `REDIS_URL`) and one
 * Postgres (embedded, or `DATABASE_URL`) for the whole run, stopped by pid afterwards.
 * Tests that must restart, flush or kill Redis start their own with `startRedisServer`.
 */
export default async function setup(project: TestProject) {
  const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
  const postgres = await startPostgres();
  project.provide('redisUrl', process.env.REDIS_URL ?? redis?.url ?? '');
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await Promise.all([redis?.stop(), postgres.stop()]);
  };
}

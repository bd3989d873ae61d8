// The durable-work ceiling: a BullMQ worker whose job writes one row to Postgres and waits
// for its commit — the least a job does whose result must survive a crash — at the same
// concurrency as the notifier. Between the no-op worker and the notifier, it shows what one
// durable record per job costs on its own. argv: redisUrl queueName concurrency databaseUrl
import { queuePrefix } from '@storefront/contracts';
import { createRedis } from '@storefront/redis-kit';
import { Worker } from 'bullmq';
import pg from 'pg';

const [redisUrl, queue, concurrency, databaseUrl] = process.argv.slice(2) as [string, string, string, string];
const db = new pg.Pool({ connectionString: databaseUrl, max: Number(concurrency) });
await db.query(
  'CREATE TABLE IF NOT EXISTS durable_records (job_id text PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now())',
);
const worker = new Worker(
  queue,
  async (job) => {
    await db.query('INSERT INTO durable_records (job_id) VALUES ($1) ON CONFLICT DO NOTHING', [job.id]);
  },
  {
    connection: createRedis({ url: redisUrl }, { role: 'worker' }),
    prefix: queuePrefix(queue),
    concurrency: Number(concurrency),
  },
);
worker.on('error', () => {});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

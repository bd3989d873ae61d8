import { NOTIFICATION_JOB_OPTIONS } from '@storefront/contracts';
import { createRedis } from '@storefront/redis-kit';
import { Queue, QueueEvents, Worker } from 'bullmq';

const url = process.argv[2];
const variant = process.argv[3];
const n = 3000;
const name = `q-${variant}-${Date.now()}`;
const conn = createRedis({ url }, { role: 'producer' });
const q = new Queue(name, { connection: conn });
const opts = { connection: createRedis({ url }, { role: 'worker' }), concurrency: 8 };
if (variant.includes('limiter')) opts.limiter = { max: 1000000, duration: 1000 };
if (variant.includes('stalled')) {
  opts.stalledInterval = 5000;
  opts.lockDuration = 5000;
}
const ret = variant.includes('return');
let done = 0;
let resolveAll;
const all = new Promise((r) => (resolveAll = r));
const w = new Worker(name, async () => (ret ? { outcome: 'delivered' } : undefined), opts);
w.on('completed', () => {
  if (++done === n) resolveAll();
});
await w.waitUntilReady();
const jobs = Array.from({ length: n }, (_, i) => ({
  name: 'notify',
  data: { i, message: 'x'.repeat(300) },
  opts: { ...NOTIFICATION_JOB_OPTIONS, jobId: `j${i}` },
}));
const t0 = performance.now();
await q.addBulk(jobs);
await all;
console.log(variant.padEnd(20), Math.round(n / ((performance.now() - t0) / 1000)), 'jobs/s');
await w.close();
await q.close();
conn.disconnect();
process.exit(0);

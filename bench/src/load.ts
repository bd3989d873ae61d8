import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const worker = fileURLToPath(new URL('./load-worker.js', import.meta.url));

/** What one load run measured. */
export interface LoadResult {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
}

/**
 * The answers of `results` other than `expected`, as `"10×500, 3×409"` ('' when there were
 * none): latency figures cover every answer, so a run must say what the others were.
 */
export const otherAnswers = (expected: string, ...results: LoadResult[]): string => {
  const others = new Map<string, number>();
  for (const r of results)
    for (const [status, n] of Object.entries(r.statusCounts))
      if (status !== expected) others.set(status, (others.get(status) ?? 0) + n);
  return [...others].map(([status, n]) => `${n}×${status}`).join(', ');
};

/** How many answers of `results` had status `status` (e.g. `'201'`: orders placed). */
export const answersWith = (status: string, ...results: LoadResult[]): number =>
  results.reduce((n, r) => n + (r.statusCounts[status] ?? 0), 0);

/** Drive `url` with autocannon from a separate process (loopback only). */
export const load = async (options: {
  url: string;
  connections: number;
  durationSeconds: number;
  mode?: 'get' | 'orders';
  productIds?: string[];
  /** Customers' bearer tokens for `orders` (each request uses one at random); passed in the environment, never on argv. */
  tokens?: string[];
}): Promise<LoadResult> => {
  if (!/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(options.url))
    throw new Error(`refusing a non-loopback target: ${options.url}`);
  const { tokens = [], ...rest } = options;
  const { stdout } = await run(process.execPath, [worker, JSON.stringify(rest)], {
    timeout: (options.durationSeconds + 30) * 1000,
    env: { ...process.env, LOAD_TOKENS: tokens.join(' ') },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LoadResult;
};

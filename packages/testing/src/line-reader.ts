import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Reads a child's output line by line; every line is kept until asked for. */
export interface LineReader {
  /** The next line not yet returned; rejects after `timeoutMs` (default 10 s) or when the stream ends. */
  next(timeoutMs?: number): Promise<string>;
  /** The next line parsed as JSON. */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
}

/** Queue the lines of `stream` so a test can await them one at a time without losing any. */
export const lineReader = (stream: Readable): LineReader => {
  const lines: string[] = [];
  const waiters: ((line: string | undefined) => void)[] = [];
  let ended = false;
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  rl.on('close', () => {
    ended = true;
    for (const waiter of waiters.splice(0)) waiter(undefined);
  });
  const next = (timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const queued = lines.shift();
      if (queued !== undefined) return resolve(queued);
      if (ended) return reject(new Error('stream ended before the next line'));
      const timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((line) => {
        clearTimeout(timer);
        if (line === undefined) reject(new Error('stream ended before the next line'));
        else resolve(line);
      });
    });
  return { next, nextJson: async (timeoutMs) => JSON.parse(await next(timeoutMs)) };
};

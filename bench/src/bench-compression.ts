import { decodeEntry, encodeEntry } from '@storefront/redis-kit';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { median } from './stats.js';

// A product as catalog caches it, with a 2 000-character description (the contract's maximum)
// of prose-like text: what compression is for. Random bytes would not compress at all.
const product = {
  id: 'bench-long',
  name: 'Single-origin espresso beans, 1 kg',
  description: Array.from(
    { length: 30 },
    (_, i) => `Lot ${i}: washed, roasted medium-dark; cocoa and cherry, a syrupy body, a long finish.`,
  )
    .join(' ')
    .slice(0, 2000),
  priceCents: 2490,
  stock: 500,
  version: 7,
  updatedAt: new Date(0).toISOString(),
};

/** Run `fn` for `ms`; nanoseconds per call. */
const timePerCall = (ms: number, fn: () => unknown): number => {
  const until = performance.now() + ms;
  let n = 0;
  const started = process.hrtime.bigint();
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return Number(process.hrtime.bigint() - started) / n;
};

/**
 * Cache value compression: the bytes a 2 KB product takes in Redis with Brotli (quality 4,
 * the cache's default, and 1 and 9 for the choice) against plain JSON, and the CPU of one
 * write (encode) plus one read (decode) against JSON's stringify + parse, rounds interleaved.
 */
export const cacheCompression = async (_env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const entry = { v: product, ver: 7, fresh: Date.now() + 60_000 };
  const plainText = JSON.stringify(entry);
  const qualities = [1, 4, 9] as const;
  const plainNs: number[] = [];
  const zipNs: Record<number, number[]> = { 1: [], 4: [], 9: [] };
  const bytes: Record<number, number> = {};
  let roundTrips = true;
  for (let round = 0; round < budget.rounds; round++) {
    plainNs.push(timePerCall(budget.loopMs / 4, () => JSON.parse(JSON.stringify(entry))));
    for (const quality of qualities) {
      const { text } = encodeEntry(entry, { minBytes: 1024, quality });
      bytes[quality] = Buffer.byteLength(text);
      roundTrips &&= JSON.stringify(decodeEntry(text)) === plainText;
      zipNs[quality]!.push(
        timePerCall(budget.loopMs / 4, () => decodeEntry(encodeEntry(entry, { minBytes: 1024, quality }).text)),
      );
    }
    budget.log(
      `  compression round ${round + 1}/${budget.rounds}: plain ${Buffer.byteLength(plainText)} B ${Math.round(plainNs.at(-1)! / 1000)} µs; ${qualities
        .map((q) => `q${q} ${bytes[q]} B ${Math.round(zipNs[q]!.at(-1)! / 1000)} µs`)
        .join('; ')}`,
    );
  }
  const plainBytes = Buffer.byteLength(plainText);
  const p = median(plainNs);
  const z = median(zipNs[4]!);
  return [
    {
      name: 'cache value compression: bytes in Redis (2 KB product, Brotli q4)',
      measured: `${bytes[4]} B stored`,
      ceiling: `plain JSON ${plainBytes} B`,
      ratio: bytes[4]! / plainBytes,
      goal: 'smaller (lower is better); q1 / q9 for the choice',
      met: bytes[4]! < plainBytes,
      correct: roundTrips,
      note: `q1 ${bytes[1]} B (${((bytes[1] ?? 0) / plainBytes).toFixed(2)}x), q9 ${bytes[9]} B (${((bytes[9] ?? 0) / plainBytes).toFixed(2)}x); every codec round-trips the value exactly`,
    },
    {
      name: 'cache value compression: CPU of one write + one read',
      measured: `Brotli q4 ${(z / 1000).toFixed(1)} µs`,
      ceiling: `JSON stringify + parse ${(p / 1000).toFixed(1)} µs`,
      ratio: z / p,
      goal: 'the price of the bytes saved (lower is better)',
      met: null,
      correct: roundTrips,
      note: `q1 ${(median(zipNs[1]!) / 1000).toFixed(1)} µs, q9 ${(median(zipNs[9]!) / 1000).toFixed(1)} µs; an L1 hit pays none of it, an L2 read pays the decode only`,
    },
  ];
};

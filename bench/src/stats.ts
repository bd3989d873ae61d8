/** The median of a list of numbers. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The p-th percentile (0–100), nearest rank. */
export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

/** Run `fn` repeatedly for `ms`, returning how many times it completed. */
export const forDuration = async (ms: number, fn: () => Promise<unknown>): Promise<number> => {
  const until = performance.now() + ms;
  let n = 0;
  while (performance.now() < until) {
    await fn();
    n++;
  }
  return n;
};

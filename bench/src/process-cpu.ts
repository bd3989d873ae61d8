import { readFileSync } from 'node:fs';

/** Linux reports a process's CPU time in clock ticks of `USER_HZ`, 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) a process has used so far, in ms, from `/proc/<pid>/stat`;
 * `undefined` where there is no procfs (macOS, Windows) or the process is gone. A steadier
 * witness than throughput on a small shared machine: a round that ran slower because the
 * machine was busy still costs the same CPU per request.
 */
export const processCpuMs = (pid: number): number | undefined => {
  try {
    // Fields after the command name (which may hold spaces, so split after its closing paren): utime is the 14th, stime the 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ');
    const ticks = Number(fields?.[11]) + Number(fields?.[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The CPU each named group of processes used while `work` ran, in ms per group
 * (`undefined` without procfs), e.g. `{ order: [pid, pid], catalog: [pid, pid] }`.
 */
export const cpuDuring = async <T, G extends string>(
  groups: Record<G, number[]>,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<G, number> | undefined }> => {
  const total = () => {
    const sums = Object.entries<number[]>(groups).map(([name, pids]) => {
      const each = pids.map(processCpuMs);
      return [name, each.includes(undefined) ? undefined : each.reduce((a, b) => a! + b!, 0)] as const;
    });
    return sums.some(([, ms]) => ms === undefined) ? undefined : (Object.fromEntries(sums) as Record<G, number>);
  };
  const before = total();
  const result = await work();
  const after = total();
  if (!before || !after) return { result, cpuMs: undefined };
  const used = Object.fromEntries(Object.keys(groups).map((name) => [name, after[name as G] - before[name as G]]));
  return { result, cpuMs: used as Record<G, number> };
};

/**
 * The CPU `pids` used between two readings, in ms, counting only processes alive at both:
 * for a set that may change while it is measured (the Postgres backends serving a pool, one
 * of which may close), where {@link cpuDuring} needs every process to the end.
 */
export const cpuOfLiving = (pids: number[]): (() => number) => {
  const before = new Map(pids.map((pid) => [pid, processCpuMs(pid)]));
  return () =>
    pids.reduce((sum, pid) => {
      const [was, now] = [before.get(pid), processCpuMs(pid)];
      return was === undefined || now === undefined ? sum : sum + now - was;
    }, 0);
};

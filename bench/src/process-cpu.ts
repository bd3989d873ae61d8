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

/** The CPU `pids` used together while `work` ran, in ms (`undefined` without procfs). */
export const cpuDuring = async <T>(
  pids: number[],
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number[] | undefined }> => {
  const before = pids.map(processCpuMs);
  const result = await work();
  const after = pids.map(processCpuMs);
  const known = [...before, ...after].every((v) => v !== undefined);
  return { result, cpuMs: known ? after.map((a, i) => a! - before[i]!) : undefined };
};

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const live = new Set<ChildProcess>();

/**
 * Remember a spawned child so it is killed (by pid) if the test process exits without
 * stopping it. Nothing the harness did not spawn is ever signalled.
 */
export const track = (child: ChildProcess): ChildProcess => {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
};

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Signal a child and resolve once it has exited. */
export const stopChild = async (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
};

/**
 * Run `count` Node processes of `script` with `args` at the same time (tracked), and resolve
 * with each one's exit code and everything it wrote to stdout, in start order — for claims
 * that need real concurrency across processes.
 */
export const runNodeProcesses = async (
  count: number,
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string }[]> => {
  const children = Array.from({ length: count }, () => track(spawn(process.execPath, [script, ...args])));
  const outputs = children.map((c) => {
    let out = '';
    c.stdout?.on('data', (d) => (out += d));
    return () => out;
  });
  const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0] as number | null));
  return codes.map((code, i) => ({ code, stdout: outputs[i]!() }));
};

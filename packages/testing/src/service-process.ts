import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopChild, track } from './child-processes.js';

/** A service running as a real process, as in production. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  /** Every log line it printed so far (parsed pino JSON). */
  readonly logs: Record<string, unknown>[];
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Options for {@link startServiceProcess}. */
export interface StartServiceOptions {
  /** Path of the built entry point, e.g. `services/catalog/dist/main.js`. */
  entry: string;
  env: Record<string, string>;
  /** Default 30 s. */
  startTimeoutMs?: number;
  /**
   * Decide readiness by polling `GET <path>` on `env.PORT` instead of waiting for the
   * "listening" log line (for processes run with LOG_LEVEL above info). Needs a fixed PORT.
   */
  readyPath?: string;
  /**
   * Send its stdout nowhere instead of parsing it (`logs` stays empty): for a benchmark,
   * where logging stays on at info but the harness must not spend CPU reading every line.
   * Needs `readyPath`.
   */
  discardLogs?: boolean;
  /** Flags for Node itself, before the entry (e.g. `--cpu-prof`, which NODE_OPTIONS may not carry). */
  nodeArgs?: string[];
}

/**
 * Spawn a service's built `main.js` and resolve once it logs that it is listening.
 * Pass `PORT: '0'` to let it pick a free port; the port is read from its log.
 */
export const startServiceProcess = async ({
  entry,
  env,
  startTimeoutMs = 30_000,
  readyPath,
  discardLogs = false,
  nodeArgs = [],
}: StartServiceOptions): Promise<ServiceProcess> => {
  if (discardLogs && !readyPath) throw new Error('startServiceProcess: discardLogs needs readyPath');
  const child = track(
    spawn(process.execPath, [...nodeArgs, entry], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
      stdio: ['ignore', discardLogs ? 'ignore' : 'pipe', 'pipe'],
    }),
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${entry} did not start within ${startTimeoutMs} ms: ${stderr}`)),
      startTimeoutMs,
    );
    if (child.stdout)
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const entryLog = JSON.parse(line) as Record<string, unknown>;
          logs.push(entryLog);
          if (typeof entryLog.msg === 'string' && entryLog.msg.endsWith('listening')) {
            clearTimeout(timer);
            resolve(Number(entryLog.port));
          }
        } catch {
          // not JSON: ignore
        }
      });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before listening: ${stderr.trim()}`));
    });
    if (readyPath) {
      const url = `http://127.0.0.1:${env.PORT}${readyPath}`;
      const poll = async () => {
        for (;;) {
          if (child.exitCode !== null) return;
          try {
            if ((await fetch(url)).ok) {
              clearTimeout(timer);
              return resolve(Number(env.PORT));
            }
          } catch {
            // not listening yet
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      void poll();
    }
  });
  return {
    child,
    pid: child.pid ?? -1,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    logs,
    stop: async (signal = 'SIGTERM') => {
      await stopChild(child, signal);
      return exited;
    },
  };
};

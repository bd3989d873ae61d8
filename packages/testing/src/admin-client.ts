import { Redis } from 'ioredis';

const credentials = new Map<number, { username: string; password: string }>();
const tlsMaterial = new Map<number, { ca: string; cert: string; key: string }>();

/**
 * Remember the harness's own ACL user for a server it started, so admin commands keep
 * working when a test turns the default user off.
 */
export const rememberAdmin = (port: number, username: string, password: string): void => {
  credentials.set(port, { username, password });
};

/** Remember that the server on `port` speaks TLS only: verify it against `ca`, present `cert` if it asks. */
export const rememberTls = (port: number, tls: { ca: string; cert: string; key: string }): void => {
  tlsMaterial.set(port, tls);
};

/**
 * Run one command against a harness-owned server over a short-lived connection that
 * never retries, so a dead server fails the call at once instead of hanging.
 */
export const adminCommand = async (port: number, command: string, ...args: (string | number)[]): Promise<unknown> => {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...credentials.get(port),
    ...(tlsMaterial.has(port) ? { tls: tlsMaterial.get(port) } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
};

/** `INFO <section>` parsed into a key → value map. */
export const infoFields = async (port: number, section: string): Promise<Record<string, string>> => {
  const text = String(await adminCommand(port, 'INFO', section));
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes(':') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
};

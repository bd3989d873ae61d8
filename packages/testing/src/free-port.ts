import { createServer } from 'node:net';

/**
 * Ports handed out are below Linux's ephemeral range (32768–60999 by default): a port the OS
 * picked for `listen(0)` and freed is soon reused as the local port of an outgoing
 * connection (every Redis and Postgres client takes one), and a server spawned on it a moment
 * later then finds it taken. Below that range only other listeners can take it.
 */
const FIRST = 20_000;
const LAST = 32_000;

const tryListen = (port: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });

/**
 * A free loopback port, picked at random below the ephemeral range (falling back to one the
 * OS picks). Another process may still take it before we bind, so callers that spawn
 * servers retry on "address in use".
 */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(FIRST + Math.floor(Math.random() * (LAST - FIRST)));
    if (port) return port;
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free loopback port');
  return port;
};

import { createServer } from 'node:net';

/**
 * Ports handed out are below Linux's ephemeral range (32768–60999 by default): a port the OS
 * picked for `listen(0)` and freed is soon reused as the local port of an outgoing
 * connection (every Redis and Postgres client takes one), and a server spawned on it a moment
 * later then finds it taken. Below that range only other listeners can take it.
 */
const FIRST = 20_000;
const LAST = 32_000;
/** Where Linux's ephemeral range starts by default. */
const EPHEMERAL_FIRST = 32_768;
/** A Cluster node also listens on its cluster bus port: its port + 10 000 (Redis' default). */
export const CLUSTER_BUS_OFFSET = 10_000;

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
 *
 * With `clusterBus`, a port for a Redis Cluster node: its bus port (+ 10 000) is free too and
 * also below the ephemeral range (so the port is below 22 768) — else a client's outgoing
 * connection can hold the bus port when the node starts, or restarts on the same port.
 */
export const freePort = async ({ clusterBus = false }: { clusterBus?: boolean } = {}): Promise<number> => {
  if (clusterBus) {
    const last = EPHEMERAL_FIRST - CLUSTER_BUS_OFFSET;
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = await tryListen(FIRST + Math.floor(Math.random() * (last - FIRST)));
      if (port && (await tryListen(port + CLUSTER_BUS_OFFSET))) return port;
    }
    throw new Error(`no free loopback port in ${FIRST}–${last - 1} with its cluster bus port free`);
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(FIRST + Math.floor(Math.random() * (LAST - FIRST)));
    if (port) return port;
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free loopback port');
  return port;
};

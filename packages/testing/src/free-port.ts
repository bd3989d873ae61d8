import { createServer } from 'node:net';

/**
 * Ask the OS for a free loopback port. Another process may take it before we bind, so
 * callers that spawn servers retry on "address in use".
 */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

import { createServer } from 'node:net';

/** Resolve with whether `port` on 127.0.0.1 can be bound right now. */
export const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** Parse `3101,3102` into ports, naming the variable in the error. */
export const parsePorts = (name: string, value: string, count: number): number[] => {
  const ports = value.split(',').map((p) => Number(p.trim()));
  if (ports.length !== count || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`${name} must list ${count} port${count > 1 ? 's' : ''} (got "${value}")`);
  }
  return ports;
};

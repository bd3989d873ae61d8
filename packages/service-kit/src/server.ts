import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Express } from 'express';

/** A listening HTTP server and its real address. */
export interface Listening {
  server: Server;
  port: number;
  /** Stop accepting, let in-flight requests finish, close idle keep-alive sockets. */
  close(): Promise<void>;
}

/**
 * Listen on `host:port` (port 0 picks a free one). A taken port rejects with a clear
 * message rather than an unhandled `EADDRINUSE`.
 */
export const listen = async (app: Express, port: number, host: string): Promise<Listening> => {
  const server = app.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`Port ${port} on ${host} is already in use; set PORT to a free port`, { cause: error });
    }
    throw error;
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // close() only closes sockets idle at that moment; a keep-alive socket whose
        // request finishes later would hold the server open until its timeout.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close((err) => {
          clearInterval(sweep);
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
};

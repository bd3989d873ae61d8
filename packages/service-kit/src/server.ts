import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** A listening HTTP server and its real address. */
export interface Listening {
  server: Server;
  port: number;
  /** Stop accepting, let in-flight requests finish, close idle keep-alive sockets. */
  close(): Promise<void>;
}

/** Limits on slow clients, for {@link listen}. */
export interface ListenOptions {
  /** A request's headers must arrive within this. Default 10 000 ms (Node's is 60 s). */
  headersTimeoutMs?: number;
  /** A whole request (headers and body) must arrive within this. Default 30 000 ms (Node's is 300 s). */
  requestTimeoutMs?: number;
}

/**
 * Listen on `host:port` (port 0 picks a free one). A taken port rejects with a clear
 * message rather than an unhandled `EADDRINUSE`. A client that trickles its headers or
 * body is cut off (408) at the timeouts, checked every second rather than Node's 30 s, so
 * slow connections cannot pile up.
 */
export const listen = async (
  app: Express,
  port: number,
  host: string,
  { headersTimeoutMs = 10_000, requestTimeoutMs = 30_000 }: ListenOptions = {},
): Promise<Listening> => {
  const server = createServer(
    { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1_000 },
    app,
  );
  server.listen(port, host);
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

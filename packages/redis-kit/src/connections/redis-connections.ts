import { type ConnectionRole, createRedis, type RedisClient } from './create-redis.js';
import type { RedisConfig } from './redis-config.js';

/**
 * The connections one process opens to one Redis deployment, named for `CLIENT LIST`
 * (`<prefix>:<label>`), closed together at shutdown.
 */
export class RedisConnections {
  readonly #opened: RedisClient[] = [];

  constructor(
    private readonly config: RedisConfig,
    private readonly namePrefix: string,
    private readonly onError: (error: Error, label: string) => void = () => {},
    /** Reply deadline for command and producer connections (see `createRedis`). */
    private readonly commandTimeoutMs?: number,
  ) {}

  /** Open a connection in `role`; `label` names it (default: the role). */
  open(role: ConnectionRole, label: string = role): RedisClient {
    const client = createRedis(this.config, {
      role,
      connectionName: `${this.namePrefix}:${label}`,
      ...(this.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: this.commandTimeoutMs }),
    });
    client.on('error', (error: Error) => this.onError(error, label));
    this.#opened.push(client);
    return client;
  }

  /** QUIT every connection (waiting for replies in flight); force-close any that cannot. */
  async quitAll(): Promise<void> {
    await Promise.all(
      this.#opened.splice(0).map(async (client) => {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }
}

import type { Registry } from 'prom-client';
import { connectionMetrics } from './connection-metrics.js';
import { type ConnectionRole, createRedis, type RedisClient } from './create-redis.js';
import type { RedisConfig } from './redis-config.js';

/** Options for {@link RedisConnections}. */
export interface RedisConnectionsOptions {
  /** Called with each connection error and the connection's label. Default: ignore. */
  onError?: (error: Error, label: string) => void;
  /** Called with the label of a connection brought back from `end` (see `reviveAfterEnd`). */
  onRevive?: (label: string) => void;
  /** Reply deadline for command and producer connections (see `createRedis`). */
  commandTimeoutMs?: number;
  /** Where `redis_connection_revived_total` is counted. Default: not counted. */
  registry?: Registry;
}

/**
 * The connections one process opens to one Redis deployment, named for `CLIENT LIST`
 * (`<prefix>:<label>`), closed together at shutdown.
 */
export class RedisConnections {
  readonly #opened: RedisClient[] = [];

  constructor(
    private readonly config: RedisConfig,
    private readonly namePrefix: string,
    private readonly options: RedisConnectionsOptions = {},
  ) {}

  /** Open a connection in `role`; `label` names it (default: the role). `readFrom: 'replica'` reads from a replica. */
  open(role: ConnectionRole, label: string = role, readFrom: 'primary' | 'replica' = 'primary'): RedisClient {
    const { onError, onRevive, commandTimeoutMs, registry } = this.options;
    const client = createRedis(this.config, {
      role,
      readFrom,
      connectionName: `${this.namePrefix}:${label}`,
      onRevive: () => {
        connectionMetrics(registry)?.revived.inc({ connection: label });
        onRevive?.(label);
      },
      ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
    });
    client.on('error', (error: Error) => onError?.(error, label));
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

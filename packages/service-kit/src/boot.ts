import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { ConfigError } from './config.js';
import { createPool, type Migration, migrate } from './database.js';
import { Health } from './health.js';
import { createLogger } from './logger.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { listen } from './server.js';
import { exitOnSignals, Shutdown } from './shutdown.js';

/** Config fields {@link bootService} itself reads; every service config has them (from `baseEnv`). */
export interface BootConfig {
  LOG_LEVEL: string;
  HOST: string;
  PORT: number;
  ADVERTISE_HOST?: string | undefined;
  SHUTDOWN_TIMEOUT_MS: number;
}

/** What a service's `start` receives to build its dependencies and app. */
export interface ServiceContext<C> {
  service: string;
  /** Unique per process: `<service>-<8 hex>`. */
  instanceId: string;
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  shutdown: Shutdown;
  /** Run `fn` with the real port once the server listens. */
  whenListening(fn: (port: number) => Promise<void>): void;
  /**
   * Register in the service registry once listening (`register(port)` starts it); adds
   * the `registry` readiness check (heartbeat fresh) and deregisters in the `registry`
   * shutdown phase.
   */
  register(register: (port: number) => Promise<Registration>): void;
  /**
   * Open the service's Postgres pool and bring its schema up to date; adds the `database`
   * readiness check and closes the pool in the `database` shutdown phase.
   */
  openDatabase(url: string, migrations: readonly Migration[]): Promise<pg.Pool>;
}

/** What {@link ServiceContext.register} needs of a registration (redis-kit's ServiceRegistration fits). */
export interface Registration {
  readonly fresh: boolean;
  stop(): Promise<void>;
}

/** Options for {@link bootService}. */
export interface BootOptions<C extends BootConfig> {
  service: string;
  /** Parse and validate the environment; throw {@link ConfigError} on a bad value. */
  loadConfig: (env: NodeJS.ProcessEnv) => C;
  /** Build dependencies (adding their shutdown steps) and return the app. */
  start: (ctx: ServiceContext<C>) => Promise<Express>;
}

const fail = (service: string, message: string): never => {
  process.stderr.write(`${service}: ${message}\n`);
  process.exit(1);
};

/**
 * The body of every service's `main.ts`: validate config (a bad value exits 1 with one
 * line naming it), build logger, metrics, health and the app, listen, and run the
 * shutdown phases on SIGTERM / SIGINT.
 */
export const bootService = async <C extends BootConfig>(options: BootOptions<C>): Promise<void> => {
  let config: C;
  try {
    config = options.loadConfig(process.env);
  } catch (error) {
    return fail(options.service, error instanceof ConfigError ? error.message : String(error));
  }
  const instanceId = `${options.service}-${randomBytes(4).toString('hex')}`;
  const logger = createLogger({ service: options.service, instanceId, level: config.LOG_LEVEL });
  const shutdown = new Shutdown(logger);
  const health = new Health();
  const listeners: ((port: number) => Promise<void>)[] = [];
  const ctx: ServiceContext<C> = {
    service: options.service,
    instanceId,
    config,
    logger,
    metrics: createMetrics(options.service, instanceId),
    health,
    shutdown,
    whenListening: (fn) => {
      listeners.push(fn);
    },
    register: (register) => {
      let registration: Registration | undefined;
      health.addCheck('registry', async () => {
        if (!registration?.fresh) throw new Error('registry heartbeat is not fresh');
      });
      listeners.push(async (port) => {
        registration = await register(port);
        shutdown.add('registry', 'deregister', () => registration?.stop());
      });
    },
    openDatabase: async (url, migrations) => {
      const db = createPool(url);
      shutdown.add('database', 'close pool', () => db.end());
      health.addCheck('database', () => db.query('SELECT 1'));
      await migrate(db, migrations);
      return db;
    },
  };
  exitOnSignals(shutdown, logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.add('readiness', 'mark not ready', () => health.startDraining());
  try {
    const app = await options.start(ctx);
    const listening = await listen(app, config.PORT, config.HOST);
    shutdown.add('http', 'drain http', () => listening.close());
    for (const fn of listeners) await fn(listening.port);
    logger.info({ port: listening.port, host: config.HOST }, `${options.service} listening`);
  } catch (error) {
    logger.error({ err: error }, 'start-up failed');
    await shutdown.run();
    return fail(options.service, (error as Error).message);
  }
};

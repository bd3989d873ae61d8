import { ConfigError, exitOnSignals, listen } from '@storefront/service-kit';
import type { Express } from 'express';
import type { ServiceConfig } from './service-env.js';
import { ServiceHost } from './service-host.js';

/** What a service's composition function builds: at least its app; tests may use the rest. */
export interface Composed {
  app: Express;
}

/** Options for {@link bootService}. */
export interface BootOptions<C extends ServiceConfig> {
  service: string;
  /** Parse and validate the environment; throw `ConfigError` on a bad value. */
  loadConfig: (env: NodeJS.ProcessEnv) => C;
  /** The service's composition function: asks the host for what it needs, returns the app. */
  compose: (host: ServiceHost<C>) => Promise<Composed>;
}

const fail = (service: string, message: string): never => {
  process.stderr.write(`${service}: ${message}\n`);
  process.exit(1);
};

/**
 * The body of every service's `main.ts`: validate config (a bad value exits 1 with one
 * line naming it), host the service ({@link ServiceHost}), compose it, listen, join the
 * registry, and run the shutdown phases on SIGTERM / SIGINT — or, exiting 1, when the
 * process is marked unrecoverable (`Health.markUnrecoverable`, e.g. a worker that stalls
 * again after an in-process restart).
 */
export const bootService = async <C extends ServiceConfig>({ service, loadConfig, compose }: BootOptions<C>): Promise<void> => {
  let config: C;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    return fail(service, error instanceof ConfigError ? error.message : String(error));
  }
  const host = new ServiceHost({ service, config });
  exitOnSignals(host.shutdown, host.logger, config.SHUTDOWN_TIMEOUT_MS);
  // Liveness already answers 503; exiting as well lets a plain restart policy (compose's
  // `restart: unless-stopped`, which ignores health) bring up a fresh process.
  host.health.onUnrecoverable((reason) => {
    host.logger.error({ reason }, 'cannot recover by itself; shutting down to be restarted');
    void host.close().finally(() => process.exit(1));
  });
  try {
    const { app } = await compose(host);
    const listening = await listen(app, config.PORT, config.HOST);
    host.shutdown.add('http', 'drain http', () => listening.close());
    await host.listening(listening.port);
    host.logger.info({ port: listening.port, host: config.HOST }, `${service} listening`);
  } catch (error) {
    host.logger.error({ err: error }, 'start-up failed');
    await host.close();
    return fail(service, (error as Error).message);
  }
};

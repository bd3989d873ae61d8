import { randomBytes } from 'node:crypto';
import { channels, eventSchemas, queuePrefix, REGISTRY_PREFIX, type StorefrontEvent } from '@storefront/contracts';
import {
  assertNoEviction,
  type ConnectionRole,
  Discovery,
  EventBus,
  FieldCipher,
  isRedisUnavailable,
  RateLimiter,
  type RedisClient,
  RedisConnections,
  type RedisConnectionsOptions,
  type ReplicaAcknowledgement,
  registrar,
  replicaAcknowledgement,
  type ServiceRegistration,
  toRedisConfig,
} from '@storefront/redis-kit';
import {
  type AuthGuards,
  ConfigError,
  createAuthGuards,
  createLogger,
  createMetrics,
  createPool,
  createServiceApp,
  Health,
  IdentityVerifier,
  type Migration,
  migrate,
  OutboxRelay,
  type OutboxRelayOptions,
  type PoolOptions,
  type ServiceAppOptions,
  type ServiceMetrics,
  ServiceTokenSigner,
  ServiceTokenVerifier,
  Shutdown,
  Sweeper,
} from '@storefront/service-kit';
import { type Processor, Queue, Worker, type WorkerOptions } from 'bullmq';
import type { Express } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { CustomerLimits } from './rate-limits.js';
import { redisSettings, type ServiceConfig } from './service-env.js';
import { activeTracing } from './tracing/start-tracing.js';
import { WorkerWatchdog } from './worker-watchdog.js';

/** Options for {@link ServiceHost}. */
export interface ServiceHostOptions<C extends ServiceConfig> {
  /** The service's name: registry entries, metrics and logs carry it. */
  service: string;
  /** The validated config (the service's `loadConfig`). */
  config: C;
  /** Default: pino JSON on stdout at `config.LOG_LEVEL`, secrets redacted. */
  logger?: Logger;
}

/**
 * Everything a service instance is hosted with: config, logger, metrics, health and
 * shutdown, and every infrastructure resource the service asks for. Each resource is
 * opened on first request and adds its own readiness check and shutdown step, in the
 * phase it belongs to, so a service's composition function only says what it needs.
 *
 * `bootService` makes one per process; a component test makes one, composes the service
 * on it, drives the app with supertest and calls {@link close}.
 */
export class ServiceHost<C extends ServiceConfig = ServiceConfig> {
  readonly service: string;
  /** Unique per process: `<service>-<8 hex>`. */
  readonly instanceId: string;
  readonly config: C;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly health = new Health();
  readonly shutdown: Shutdown;
  #coordination: RedisConnections | undefined;
  #command: Promise<RedisClient> | undefined;
  #cache: { command: RedisClient; subscriber: RedisClient; replica: RedisClient | undefined } | undefined;
  #producer: RedisClient | undefined;
  #registrySubscriber: RedisClient | undefined;
  #events: Promise<EventBus<StorefrontEvent>> | undefined;
  #joinRegistry = false;
  #registration: ServiceRegistration | undefined;
  #auth: AuthGuards | undefined;
  #signer: ServiceTokenSigner | undefined;
  #fieldCipher: FieldCipher | undefined;
  get #connectionOptions(): RedisConnectionsOptions {
    return {
      onError: (err, connection) => this.logger.warn({ err, connection }, 'redis connection error'),
      onRevive: (connection) => this.logger.warn({ connection }, 'redis connection ended by the client library; reconnecting'),
      commandTimeoutMs: this.config.REDIS_COMMAND_TIMEOUT,
      registry: this.metrics.registry,
    };
  }

  constructor({ service, config, logger }: ServiceHostOptions<C>) {
    this.service = service;
    this.config = config;
    // The tracer started first (main.ts) already named this instance in its spans' resource.
    const tracing = activeTracing();
    this.instanceId = tracing?.service === service ? tracing.instanceId : `${service}-${randomBytes(4).toString('hex')}`;
    this.logger = logger ?? createLogger({ service, instanceId: this.instanceId, level: config.LOG_LEVEL });
    this.metrics = createMetrics(service, this.instanceId);
    // No single step may outlast the whole shutdown budget (in a process close-with-grace
    // exits then anyway; in a test or the demo, close() would otherwise wait forever).
    this.shutdown = new Shutdown(this.logger, config.SHUTDOWN_TIMEOUT_MS);
    this.shutdown.add('readiness', 'mark not ready', () => this.health.startDraining());
    if (tracing) this.shutdown.add('database', 'export buffered spans', () => tracing.shutdown());
  }

  /**
   * The coordination Redis command connection (locks, registry, idempotency, publishing).
   * Opened once; start-up fails unless the server is `noeviction`. Adds the `redis`
   * readiness check; quits in the `redis` phase.
   */
  redis(): Promise<RedisClient> {
    this.#command ??= (async () => {
      const client = this.connection('command');
      this.health.addCheck('redis', () => client.ping());
      await assertNoEviction(client);
      return client;
    })();
    return this.#command;
  }

  /** Another connection to the coordination Redis, in a role (`subscriber`, `worker`, …), named `<instance>:<label>`. */
  connection(role: ConnectionRole, label: string = role): RedisClient {
    if (!this.#coordination) {
      const connections = new RedisConnections(
        toRedisConfig(redisSettings(this.config, 'coordination')),
        this.instanceId,
        this.#connectionOptions,
      );
      this.shutdown.add('redis', 'quit coordination redis', () => connections.quitAll());
      this.#coordination = connections;
    }
    return this.#coordination.open(role, label);
  }

  /**
   * The cache Redis (`REDIS_CACHE_URL`, else the coordination deployment): a command and a
   * subscriber connection. It may evict and may be down, so it adds no readiness check.
   */
  cacheRedis(): { command: RedisClient; subscriber: RedisClient; replica: RedisClient | undefined } {
    if (!this.#cache) {
      const { REDIS_CACHE_READ_FROM, REDIS_CACHE_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES } = this.config;
      if (REDIS_CACHE_READ_FROM === 'replica' && (REDIS_CACHE_URL || !(REDIS_SENTINELS?.length || REDIS_CLUSTER_NODES?.length))) {
        throw new ConfigError(
          `Invalid configuration: REDIS_CACHE_READ_FROM=replica needs REDIS_SENTINELS or REDIS_CLUSTER_NODES and no REDIS_CACHE_URL (the replicas it reads from)`,
        );
      }
      const connections = new RedisConnections(
        toRedisConfig(redisSettings(this.config, 'cache')),
        `${this.instanceId}:cache`,
        this.#connectionOptions,
      );
      this.shutdown.add('redis', 'quit cache redis', () => connections.quitAll());
      this.#cache = {
        command: connections.open('command'),
        subscriber: connections.open('subscriber'),
        // REDIS_CACHE_READ_FROM=replica: L2 reads from a replica of the coordination deployment.
        replica:
          this.config.REDIS_CACHE_READ_FROM === 'replica' ? connections.open('command', 'replica-reads', 'replica') : undefined,
      };
    }
    return this.#cache;
  }

  /** The event bus (pub/sub) with the contracts' event schemas and channels; stops listening in the `workers` phase. */
  events(): Promise<EventBus<StorefrontEvent>> {
    this.#events ??= (async () => {
      const bus = new EventBus<StorefrontEvent>(await this.redis(), this.connection('subscriber', 'events'), {
        schemas: eventSchemas,
        channel: channels.event,
        registry: this.metrics.registry,
        onInvalid: (channel, reason) => this.logger.warn({ channel, reason }, 'invalid event dropped'),
        onHandlerError: (event, err) => this.logger.warn({ err, type: event.type }, 'event handler failed'),
      });
      this.shutdown.add('workers', 'stop event listeners', () => bus.close());
      return bus;
    })();
    return this.#events;
  }

  /**
   * A BullMQ queue to add jobs to. Producers share one connection that fails fast while
   * Redis is down (no offline queue); closed in the `queues` phase, after the workers.
   */
  queue<T>(name: string): Queue<T> {
    this.#producer ??= this.connection('producer', 'queues');
    const queue = new Queue<T>(name, {
      connection: this.#producer,
      prefix: queuePrefix(name),
      telemetry: activeTracing()?.bullmq,
    });
    queue.on('error', (err) => this.logger.warn({ err, queue: name }, 'queue error'));
    this.shutdown.add('queues', `close queue ${name}`, () => queue.close());
    return queue;
  }

  /**
   * Wraps job writes so they resolve once a replica holds them (redis-kit's
   * `replicaAcknowledgement` on the queues' connection: `WAIT 1`, skipped while a standalone
   * primary has no replica — never on Sentinel, which may promote a replica still syncing —
   * refused when the connection was re-established meanwhile). The outbox
   * wraps each row's jobs in it before marking the row published, so a job a Sentinel
   * failover lost in replication is relayed again. On Cluster it waits on every primary's
   * connection (the queues' slots may be on different primaries).
   */
  queueWritesReplicated(): ReplicaAcknowledgement {
    this.#producer ??= this.connection('producer', 'queues');
    return replicaAcknowledgement(this.#producer, { timeoutMs: Math.floor(this.config.REDIS_COMMAND_TIMEOUT / 2) });
  }

  /**
   * A BullMQ worker on its own connection (`maxRetriesPerRequest: null`, as BullMQ requires).
   * Errors are logged; in the `workers` phase it stops taking jobs and finishes those in hand.
   * A {@link WorkerWatchdog} keeps it making progress: readiness check `worker:<name>`, an
   * in-process restart when it stalls (`WORKER_STALL_TIMEOUT`), liveness when that does not
   * help. A restart replaces the worker; listeners added to the one returned here move with it.
   */
  worker<T, R = unknown>(
    name: string,
    processor: Processor<T, R>,
    options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
  ): Worker<T, R> {
    let made = 0;
    const watchdog = new WorkerWatchdog({
      name,
      create: () => {
        const worker = new Worker<T, R>(name, processor, {
          ...options,
          connection: this.connection('worker', `worker:${name}${made++ ? `:${made}` : ''}`),
          prefix: queuePrefix(name),
          telemetry: activeTracing()?.bullmq,
        });
        worker.on('error', (err) => this.logger.warn({ err, queue: name }, 'worker error'));
        return worker as unknown as Worker;
      },
      queue: this.queue(name),
      stallMs: this.config.WORKER_STALL_TIMEOUT,
      health: this.health,
      logger: this.logger,
      registry: this.metrics.registry,
    });
    this.health.addCheck(`worker:${name}`, watchdog.readiness);
    watchdog.start();
    this.shutdown.add('workers', `close worker ${name}`, () => watchdog.close());
    return watchdog.worker as unknown as Worker<T, R>;
  }

  /** Live instances of `service`, from the registry; started now, stopped in the `registry` phase. */
  async discovery(service: string): Promise<Discovery> {
    this.#registrySubscriber ??= this.connection('subscriber', 'registry');
    const discovery = new Discovery(await this.redis(), this.#registrySubscriber, service, {
      refreshMs: this.config.DISCOVERY_REFRESH_MS,
      registry: this.metrics.registry,
      prefix: REGISTRY_PREFIX,
    });
    await discovery.start();
    this.shutdown.add('registry', `stop discovery of ${service}`, () => discovery.stop());
    return discovery;
  }

  /**
   * Be found by others: once the HTTP server listens ({@link listening}), register with the
   * real port and heartbeat (TTL `REGISTRY_TTL_MS`). Adds the `registry` readiness check
   * (heartbeat fresh); deregisters in the `registry` phase.
   */
  joinRegistry(): void {
    this.#joinRegistry = true;
    this.health.addCheck('registry', async () => {
      if (!this.#registration?.fresh) throw new Error('registry heartbeat is not fresh');
    });
  }

  /**
   * The service's Postgres pool, its schema brought up to date (several instances may
   * start at once: migrations take turns). Adds the `database` readiness check; closes
   * in the last phase.
   */
  async database(url: string, migrations: readonly Migration[], options: PoolOptions = {}): Promise<pg.Pool> {
    const db = createPool(url, options);
    // A session the server ended (idle_in_transaction_session_timeout, a restart) errors on the
    // idle client; the pool drops it. Log it rather than let it crash the process.
    db.on('error', (err) => this.logger.warn({ err }, 'database connection error'));
    this.shutdown.add('database', 'close pool', () => db.end());
    this.health.addCheck('database', () => db.query('SELECT 1'));
    await migrate(db, migrations);
    return db;
  }

  /**
   * The transactional outbox's relay over `db`, handing each event to `handle`; started
   * now, stopped in the `workers` phase (before the queues it publishes to close).
   */
  outbox<E>(db: pg.Pool, handle: (event: E) => Promise<void>, options: Partial<OutboxRelayOptions<E>> = {}): OutboxRelay<E> {
    const relay = new OutboxRelay<E>(db, handle, {
      logger: this.logger.child({ component: 'outbox' }),
      registry: this.metrics.registry,
      ...options,
    });
    relay.start();
    this.shutdown.add('workers', 'stop outbox relay', () => relay.stop());
    return relay;
  }

  /**
   * Periodic repair work from the system of record (`Sweeper`): `sweep` runs every
   * `intervalMs` and resolves with how many items it fixed; stopped in the `workers` phase.
   */
  sweeper(name: string, intervalMs: number, sweep: () => Promise<number>): Sweeper {
    const sweeper = new Sweeper(sweep, { name, intervalMs, logger: this.logger, registry: this.metrics.registry });
    sweeper.start();
    this.shutdown.add('workers', `stop sweeper ${name}`, () => sweeper.stop());
    return sweeper;
  }

  /**
   * The service's Express app: service-kit's stack (health, metrics, problem+json, …) around
   * `routes`. An error that says Redis cannot answer now becomes 503 with `Retry-After`.
   */
  /**
   * The route guards (service-kit's `createAuthGuards`): customers' and admins' tokens checked
   * against the identity provider's keys (`AUTH_JWKS` or `AUTH_JWKS_URL`, `AUTH_ISSUER`,
   * `AUTH_AUDIENCE`), other services' tokens against `TRUSTED_SERVICE_KEYS`. A service that
   * mounts a customer or admin guard without identity keys fails at start with a clear error.
   */
  auth(needs: { identity?: boolean; services?: boolean } = { identity: true }): AuthGuards {
    const { AUTH_JWKS, AUTH_JWKS_URL, TRUSTED_SERVICE_KEYS } = this.config;
    if (needs.identity && !AUTH_JWKS && !AUTH_JWKS_URL) {
      throw new ConfigError(
        `Invalid configuration: ${this.service} needs AUTH_JWKS or AUTH_JWKS_URL (the identity provider's keys)`,
      );
    }
    if (needs.services && !TRUSTED_SERVICE_KEYS) {
      throw new ConfigError(`Invalid configuration: ${this.service} needs TRUSTED_SERVICE_KEYS (its callers' public keys)`);
    }
    const keys = AUTH_JWKS_URL ? new URL(AUTH_JWKS_URL) : AUTH_JWKS;
    this.#auth ??= createAuthGuards({
      identity: keys && new IdentityVerifier({ issuer: this.config.AUTH_ISSUER, audience: this.config.AUTH_AUDIENCE, keys }),
      services: TRUSTED_SERVICE_KEYS && new ServiceTokenVerifier(this.service, TRUSTED_SERVICE_KEYS),
      registry: this.metrics.registry,
    });
    return this.#auth;
  }

  /**
   * A fixed-window limit of `pointsPerMinute` per key, shared by every instance through the
   * coordination Redis (keys `<service>:ratelimit:<name>:<key>`, inside the service's ACL
   * key space). Pair it with `rateLimit` / `spendOrRefuse`.
   */
  async rateLimiter(name: string, pointsPerMinute: number): Promise<RateLimiter> {
    return new RateLimiter(await this.redis(), {
      name,
      points: pointsPerMinute,
      durationSeconds: 60,
      keyPrefix: `${this.service}:ratelimit:${name}`,
      registry: this.metrics.registry,
    });
  }

  /** `name`'s limits per customer (`perCustomerPerMinute`) and per client address (`RATE_LIMIT_PER_ADDRESS_PER_MINUTE`). */
  async customerLimits(name: string, perCustomerPerMinute: number): Promise<CustomerLimits> {
    return {
      perCustomer: await this.rateLimiter(name, perCustomerPerMinute),
      perAddress: await this.rateLimiter(`${name}-by-address`, this.config.RATE_LIMIT_PER_ADDRESS_PER_MINUTE),
    };
  }

  /** Seals and opens personal fields in Redis (`FIELD_ENCRYPTION_KEYS`; start fails without it). */
  fieldCipher(): FieldCipher {
    const keys = this.config.FIELD_ENCRYPTION_KEYS;
    if (!keys) {
      throw new ConfigError(
        `Invalid configuration: ${this.service} needs FIELD_ENCRYPTION_KEYS (the keys that seal personal fields in Redis)`,
      );
    }
    this.#fieldCipher ??= new FieldCipher(keys, { registry: this.metrics.registry });
    return this.#fieldCipher;
  }

  /** Signs this service's tokens for calls to other services (`SERVICE_SIGNING_KEY`; start fails without it). */
  serviceTokens(): ServiceTokenSigner {
    const key = this.config.SERVICE_SIGNING_KEY;
    if (!key)
      throw new ConfigError(
        `Invalid configuration: ${this.service} needs SERVICE_SIGNING_KEY (its private key for service tokens)`,
      );
    this.#signer ??= new ServiceTokenSigner(this.service, key);
    return this.#signer;
  }

  httpApp(routes: ServiceAppOptions['routes'], options: Pick<ServiceAppOptions, 'securityHeaders' | 'bodyLimits'> = {}): Express {
    return createServiceApp({
      logger: this.logger,
      metrics: this.metrics,
      health: this.health,
      bodyLimit: this.config.BODY_LIMIT,
      routes,
      unavailable: (error) => (isRedisUnavailable(error) ? 'redis' : undefined),
      trustProxy: this.config.TRUST_PROXY,
      ...options,
    });
  }

  /** Tell the host the HTTP server listens on `port` (`bootService` does): joins the registry if asked. */
  async listening(port: number): Promise<void> {
    if (!this.#joinRegistry) return;
    const register = registrar(
      await this.redis(),
      { service: this.service, instanceId: this.instanceId, host: this.config.ADVERTISE_HOST ?? this.config.HOST },
      {
        ttlMs: this.config.REGISTRY_TTL_MS,
        registry: this.metrics.registry,
        prefix: REGISTRY_PREFIX,
        onEvent: (e) => this.logger.warn({ err: e.error }, `registry ${e.type}`),
      },
    );
    this.#registration = await register(port);
    this.shutdown.add('registry', 'deregister', () => this.#registration?.stop());
  }

  /** Run every shutdown step, phase by phase (what SIGTERM does). Resolves `true` when all succeeded. */
  close(): Promise<boolean> {
    return this.shutdown.run();
  }
}

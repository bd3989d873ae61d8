import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import type { InstanceRecord, RegistryChange } from './instance.js';
import { type RegistryKeys, registryKeys } from './registry-keys.js';
import { registryMetrics } from './registry-metrics.js';
import { deregisterScript, heartbeatScript } from './registry-scripts.js';

/** Options for {@link ServiceRegistration}. */
export interface RegistrationOptions {
  /** How long the record lives without a heartbeat. Default 5 000 ms. */
  ttlMs?: number;
  /** Heartbeat period. Default ttl / 3, so two late heartbeats in a row still do not expire it. */
  heartbeatMs?: number;
  /** Where registry metrics go. Default: none. */
  registry?: Registry;
  /** Prefix of the registry's keys and channel (see `registryKeys`). Default `registry`. */
  prefix?: string;
  /** Told when a heartbeat fails or the record had to be re-created. */
  onEvent?: (event: { type: 'reregistered' | 'heartbeat_failed'; error?: unknown }) => void;
}

/** Thrown by {@link ServiceRegistration.start} when another live instance holds the same id. */
export class InstanceIdTakenError extends Error {
  override name = 'InstanceIdTakenError';
}

/**
 * One instance's presence in the registry: claims its id (SET NX semantics), keeps a
 * TTL heartbeat, re-registers by itself when the record vanished (expiry during a long
 * pause, FLUSHALL, a Redis restart or failover), and deregisters on {@link stop}.
 */
export class ServiceRegistration {
  readonly #redis: RedisClient;
  readonly #record: InstanceRecord;
  readonly #json: string;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #metrics: ReturnType<typeof registryMetrics>;
  readonly #onEvent: RegistrationOptions['onEvent'];
  readonly #keys: RegistryKeys;
  #timer: NodeJS.Timeout | undefined;
  #lastHeartbeatAt = 0;

  constructor(redis: RedisClient, record: InstanceRecord, options: RegistrationOptions = {}) {
    this.#redis = redis;
    this.#record = record;
    this.#json = JSON.stringify(record);
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#heartbeatMs = options.heartbeatMs ?? Math.floor(this.#ttlMs / 3);
    this.#metrics = registryMetrics(options.registry);
    this.#onEvent = options.onEvent;
    this.#keys = registryKeys(options.prefix);
  }

  /** When the last successful heartbeat happened (ms epoch), for readiness checks. */
  get lastHeartbeatAt(): number {
    return this.#lastHeartbeatAt;
  }

  /** True when the last heartbeat is younger than the TTL. */
  get fresh(): boolean {
    return Date.now() - this.#lastHeartbeatAt < this.#ttlMs;
  }

  /** Claim the id and start heartbeating. Throws {@link InstanceIdTakenError} if the id is in use. */
  async start(): Promise<void> {
    const result = await this.#beat();
    if (result === 0) throw new InstanceIdTakenError(`instance id ${this.#record.instanceId} is already registered`);
    this.#timer = setInterval(() => {
      this.#beat().catch((error) => {
        this.#metrics?.registryHeartbeats.inc({ outcome: 'failed' });
        this.#onEvent?.({ type: 'heartbeat_failed', error });
      });
    }, this.#heartbeatMs);
    this.#timer.unref();
  }

  /** Stop heartbeating and remove the record, announcing the leave at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const { service, instanceId } = this.#record;
    const leave: RegistryChange = { type: 'leave', service, instanceId };
    await deregisterScript(this.#redis)(
      this.#keys.instance(service, instanceId),
      this.#keys.index(service),
      this.#json,
      instanceId,
      this.#keys.changes,
      JSON.stringify(leave),
    );
  }

  async #beat(): Promise<number> {
    const { service, instanceId } = this.#record;
    const join: RegistryChange = { type: 'join', service, instanceId };
    const result = await heartbeatScript(this.#redis)(
      this.#keys.instance(service, instanceId),
      this.#keys.index(service),
      this.#json,
      this.#ttlMs,
      instanceId,
      this.#keys.changes,
      JSON.stringify(join),
    );
    if (result !== 0) this.#lastHeartbeatAt = Date.now();
    if (result === 1) this.#metrics?.registryHeartbeats.inc({ outcome: 'renewed' });
    if (result === 2 && this.#timer) {
      this.#metrics?.registryHeartbeats.inc({ outcome: 'reregistered' });
      this.#onEvent?.({ type: 'reregistered' });
    }
    return result;
  }
}

/**
 * A function that registers this instance once its port is known and resolves with the
 * started registration (service-defaults registers every service with it once it listens).
 */
export const registrar =
  (redis: RedisClient, instance: Omit<InstanceRecord, 'port' | 'startedAt'>, options: RegistrationOptions = {}) =>
  async (port: number): Promise<ServiceRegistration> => {
    const registration = new ServiceRegistration(redis, { ...instance, port, startedAt: new Date().toISOString() }, options);
    await registration.start();
    return registration;
  };

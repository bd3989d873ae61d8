import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { instantSpan } from '../tracing/spans.js';
import type { InstanceRecord, LiveInstance, RegistryChange } from './instance.js';
import { type RegistryKeys, registryKeys } from './registry-keys.js';
import { registryMetrics } from './registry-metrics.js';

/** Options for {@link Discovery}. */
export interface DiscoveryOptions {
  /** Poll period, the fallback when a pub/sub message is missed. Default 1 000 ms. */
  refreshMs?: number;
  /** An instance reported failed is skipped by {@link Discovery.pick} for this long. Default 5 000 ms. */
  failureCooldownMs?: number;
  /** Where registry metrics go. Default: none. */
  registry?: Registry;
  /** Prefix of the registry's keys and channel; must match the registrations'. Default `registry`. */
  prefix?: string;
}

/** Thrown by {@link Discovery.pick} when no live instance is known. */
export class NoInstanceError extends Error {
  override name = 'NoInstanceError';
  constructor(readonly service: string) {
    super(`no live ${service} instance in the registry`);
  }
}

/**
 * Live instances of one service. Hears joins and leaves at once over pub/sub, polls
 * as a fallback, and filters by each record's expiry on every read, so a crashed
 * instance disappears when its TTL runs out even between polls. Emits `change`.
 */
export class Discovery extends EventEmitter<{ change: [LiveInstance[]] }> {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient | undefined;
  readonly #service: string;
  readonly #refreshMs: number;
  readonly #failureCooldownMs: number;
  readonly #metrics: ReturnType<typeof registryMetrics>;
  readonly #failedAt = new Map<string, number>();
  readonly #keys: RegistryKeys;
  #instances: LiveInstance[] = [];
  #readAt: number | undefined;
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #onMessage = (channel: string, message: string) => {
    if (channel !== this.#keys.changes) return;
    try {
      const change = JSON.parse(message) as RegistryChange;
      if (change.service === this.#service) void this.refresh().catch(() => {});
    } catch {
      // not a registry message; ignore
    }
  };

  /**
   * @param redis command connection
   * @param subscriber a connection used only for pub/sub (may be shared); without it, discovery only polls
   */
  constructor(redis: RedisClient, subscriber: RedisClient | undefined, service: string, options: DiscoveryOptions = {}) {
    super();
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#service = service;
    this.#refreshMs = options.refreshMs ?? 1_000;
    this.#failureCooldownMs = options.failureCooldownMs ?? 5_000;
    this.#metrics = registryMetrics(options.registry);
    this.#keys = registryKeys(options.prefix);
  }

  /** Load the current instances, subscribe to changes, start polling. */
  async start(): Promise<void> {
    if (this.#subscriber) {
      this.#subscriber.on('message', this.#onMessage);
      await this.#subscriber.subscribe(this.#keys.changes);
    }
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh().catch(() => {}), this.#refreshMs);
    this.#timer.unref();
  }

  /** Stop polling and listening. Leaves the shared subscriber connection open. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#subscriber?.off('message', this.#onMessage);
  }

  /** Re-read the registry now (concurrent calls share one read). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#read().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Live instances, sorted by id. */
  instances(): LiveInstance[] {
    const now = Date.now();
    return this.#instances.filter((i) => i.expiresAt > now);
  }

  /**
   * The last successful read of the registry: when (`Date.now()`), and the instances live
   * then — unlike {@link instances}, not filtered by the clock since. Undefined before the
   * first read. An old one means Redis is not answering; {@link instances} then shrinks as
   * records expire, and an empty list says "unknown", not "none". A consumer that must not
   * mistake one for the other (Prometheus discovery) reads this instead.
   */
  get lastRead(): { at: number; instances: readonly LiveInstance[] } | undefined {
    return this.#readAt === undefined ? undefined : { at: this.#readAt, instances: this.#instances };
  }

  /**
   * Next instance, round-robin, skipping ones reported failed within the cooldown
   * (if every instance failed recently, the least recently failed one). Traced as a
   * `registry pick` span naming the instance.
   */
  pick(): LiveInstance {
    const picked = this.#pick();
    instantSpan('registry pick', {
      'registry.service': this.#service,
      'registry.instance_id': picked.instanceId,
      'registry.live': this.#instances.length,
    });
    return picked;
  }

  #pick(): LiveInstance {
    const live = this.instances();
    if (live.length === 0) throw new NoInstanceError(this.#service);
    const now = Date.now();
    const healthy = live.filter((i) => now - (this.#failedAt.get(i.instanceId) ?? 0) > this.#failureCooldownMs);
    if (healthy.length === 0) {
      return live.reduce((a, b) => ((this.#failedAt.get(a.instanceId) ?? 0) <= (this.#failedAt.get(b.instanceId) ?? 0) ? a : b));
    }
    this.#cursor = (this.#cursor + 1) % healthy.length;
    return healthy[this.#cursor]!;
  }

  /** Tell discovery a call to this instance failed, so {@link pick} avoids it for a while. */
  reportFailure(instanceId: string): void {
    this.#failedAt.set(instanceId, Date.now());
  }

  /**
   * Plain reads, no Lua: EVALSHA declares its keys read-write, and other services may
   * only read this service's registry keys (infra/redis/users.acl). Index and records
   * share a hash tag, so the pipeline and MGET stay on one Cluster node.
   */
  async #read(): Promise<void> {
    const index = this.#keys.index(this.#service);
    const replies = await this.#redis.pipeline().time().zrange(index, '-inf', '+inf', 'BYSCORE', 'WITHSCORES').exec();
    if (!replies) throw new Error('registry read was aborted');
    const [[timeError, time], [rangeError, range]] = replies as [[Error | null, [string, string]], [Error | null, string[]]];
    if (timeError || rangeError) throw timeError ?? rangeError;
    const serverNow = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const flat = range;
    const live: { id: string; expires: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const expires = Number(flat[i + 1]);
      if (expires > serverNow) live.push({ id: flat[i]!, expires });
    }
    const records = live.length ? await this.#redis.mget(live.map((l) => this.#keys.instance(this.#service, l.id))) : [];
    // Translate server-clock expiries to our clock once, at read time.
    const offset = Date.now() - serverNow;
    const next: LiveInstance[] = [];
    live.forEach((l, i) => {
      const raw = records[i];
      // A record can expire between the two reads: skip it.
      if (raw) next.push({ ...(JSON.parse(raw) as InstanceRecord), expiresAt: l.expires + offset });
    });
    next.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    const before = this.#instances.map((i) => i.instanceId).join(',');
    this.#instances = next;
    this.#readAt = Date.now();
    this.#metrics?.registryInstances.set({ registered_service: this.#service }, next.length);
    if (before !== next.map((i) => i.instanceId).join(',')) this.emit('change', next);
  }
}

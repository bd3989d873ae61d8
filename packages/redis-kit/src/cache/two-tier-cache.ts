import { randomBytes } from 'node:crypto';
import { type Span, trace } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../connections/create-redis.js';
import { releaseScript } from '../lock/lock-scripts.js';
import { inSpan } from '../tracing/spans.js';
import { cacheMetrics } from './cache-metrics.js';
import { versionedSetScript } from './cache-scripts.js';
import type { CacheEntry, CacheResult, CacheTier, Loaded } from './entry.js';
import { type CompressionOptions, decodeEntry, encodeEntry } from './entry-codec.js';

/** Options for {@link TwoTierCache}. */
export interface CacheOptions {
  /** Names the metrics label and the invalidation channel. */
  namespace: string;
  /** Redis key for an id. Default `${namespace}:${id}`. */
  key?: (id: string) => string;
  /** Pub/sub channel for invalidations. Default `cache:invalidate:${namespace}`. */
  channel?: string;
  /** How long an entry is fresh. Default 60 000 ms. */
  ttlMs?: number;
  /** Random ± fraction applied to each TTL so keys written together do not expire together. Default 0.1. */
  jitter?: number;
  /** After going stale, an entry is still served this long while one caller refreshes it. Default 0 (off). */
  staleMs?: number;
  /** TTL of a cached "not found". Default 5 000 ms. */
  negativeTtlMs?: number;
  /** In-process tier; `false` turns it off. Default `{ max: 1000, ttlMs: 5000 }`. */
  l1?: { max: number; ttlMs: number } | false;
  /** TTL of the cross-process "I am loading this key" lock. Default 2 000 ms. */
  loadLockTtlMs?: number;
  /** Where cache metrics go. Default: none. */
  registry?: Registry;
  /**
   * Compress values whose JSON is at least `minBytes` long (Brotli, Node's zlib) before they
   * go to Redis. Default: off. Compressed and plain entries are read either way.
   */
  compression?: CompressionOptions;
  /** Called after an invalidation from another instance dropped these ids from L1. */
  onInvalidate?: (ids: string[]) => void;
  /**
   * A connection to a replica (`createRedis(..., { readFrom: 'replica' })`) for L2 reads;
   * writes, locks and invalidations stay on `redis`. A replica lags the primary by its
   * replication delay: an entry older than an invalidation this instance has heard is not
   * served but read again from the primary, and a replica that does not answer falls back to
   * the primary too. Default: none (L2 reads go to `redis`).
   */
  replicaReads?: RedisClient;
}

interface InvalidationMessage {
  origin: string;
  ids: string[];
  version?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Cache-aside over Redis (L2) with an optional in-process LRU (L1).
 *
 * - `getOrLoad` answers from L1, then L2, then the loader; TTLs carry jitter.
 * - Concurrent misses for one key load once: single-flight inside the process, and a
 *   short Redis lock across processes (the others wait for the winner's write).
 * - Missing ids are cached as negative entries for `negativeTtlMs`.
 * - With `staleMs`, a stale entry is served while one caller refreshes it.
 * - Writes carry the source version; an older version never overwrites a newer one.
 * - When the cache Redis cannot be read, reads go to the loader (metric tier `bypass`).
 * - `set` / `invalidate` broadcast on pub/sub; every instance drops its L1 copy. When
 *   the subscriber reconnects, L1 is dropped whole (messages in the gap are lost), and
 *   while it is down L1 is bypassed.
 */
export class TwoTierCache<T extends object> {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient | undefined;
  readonly #namespace: string;
  readonly #compression: CompressionOptions | undefined;
  readonly #key: (id: string) => string;
  readonly #channel: string;
  readonly #ttlMs: number;
  readonly #jitter: number;
  readonly #staleMs: number;
  readonly #negativeTtlMs: number;
  readonly #loadLockTtlMs: number;
  readonly #l1: LRUCache<string, CacheEntry<T>> | undefined;
  readonly #inflight = new Map<string, Promise<CacheEntry<T>>>();
  readonly #metrics: ReturnType<typeof cacheMetrics>;
  readonly #origin = randomBytes(8).toString('hex');
  readonly #onInvalidate: ((ids: string[]) => void) | undefined;
  readonly #replica: RedisClient | undefined;
  #replicaWasReady = false;
  #subscriberReadyOnce = false;

  readonly #onMessage = (channel: string, message: string) => {
    if (channel !== this.#channel) return;
    try {
      const msg = JSON.parse(message) as InvalidationMessage;
      if (msg.origin === this.#origin) return;
      this.#metrics?.cacheInvalidations.inc({ namespace: this.#namespace, direction: 'received' });
      for (const id of msg.ids) this.#dropLocal(id, msg.version);
      this.#onInvalidate?.(msg.ids);
    } catch {
      // malformed message: ignore
    }
  };
  readonly #onSubscriberReady = () => {
    // A reconnect: anything published while we were away is lost, so nothing in L1 can be trusted.
    if (this.#subscriberReadyOnce) this.#l1?.clear();
    this.#subscriberReadyOnce = true;
  };

  /**
   * @param redis command connection (may be the cache Redis, which may evict)
   * @param subscriber pub/sub connection for invalidations; required for L1 to be kept coherent across instances
   */
  constructor(redis: RedisClient, subscriber: RedisClient | undefined, options: CacheOptions) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#namespace = options.namespace;
    this.#compression = options.compression;
    this.#key = options.key ?? ((id) => `${options.namespace}:${id}`);
    this.#channel = options.channel ?? `cache:invalidate:${options.namespace}`;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#jitter = options.jitter ?? 0.1;
    this.#staleMs = options.staleMs ?? 0;
    this.#negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.#loadLockTtlMs = options.loadLockTtlMs ?? 2_000;
    const l1 = options.l1 ?? { max: 1000, ttlMs: 5000 };
    this.#l1 = l1 ? new LRUCache<string, CacheEntry<T>>({ max: l1.max, ttl: l1.ttlMs }) : undefined;
    this.#metrics = cacheMetrics(options.registry);
    this.#onInvalidate = options.onInvalidate;
    this.#replica = options.replicaReads;
    if (this.#replica) {
      this.#replicaWasReady = this.#replica.status === 'ready';
      this.#replica.once('ready', () => {
        this.#replicaWasReady = true;
      });
    }
  }

  /** Subscribe to invalidations. */
  async start(): Promise<void> {
    if (!this.#subscriber) return;
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onSubscriberReady);
    this.#subscriberReadyOnce = this.#subscriber.status === 'ready';
    await this.#subscriber.subscribe(this.#channel);
  }

  /** Stop listening (the shared subscriber connection stays open). */
  async stop(): Promise<void> {
    this.#subscriber?.off('message', this.#onMessage);
    this.#subscriber?.off('ready', this.#onSubscriberReady);
  }

  /** Whether this instance holds `id` in L1 (for tests and the dashboard). */
  hasLocal(id: string): boolean {
    const entry = this.#l1?.get(id);
    return entry !== undefined && !entry.tomb;
  }

  /** Read through the tiers, loading from the origin on a miss. Traced as `cache get` with `cache.tier`. */
  getOrLoad(id: string, loader: () => Promise<Loaded<T>>): Promise<CacheResult<T>> {
    // An L1 hit touches nothing outside the process: it is an attribute of the caller's span
    // (`cache.tier=l1`), not a span of its own — the read path's hottest case stays cheap.
    if (this.#l1Usable()) {
      const local = this.#l1?.get(id);
      if (local && !local.tomb && local.fresh > Date.now()) {
        trace.getActiveSpan()?.setAttribute('cache.tier', 'l1');
        return Promise.resolve(this.#hit(local, 'l1'));
      }
    }
    return inSpan('cache get', { 'cache.namespace': this.#namespace, 'cache.key': id }, async (span) => {
      const result = await this.#getOrLoad(id, loader, span);
      span.setAttribute('cache.tier', result.tier);
      return result;
    });
  }

  /** Past L1 (missed or stale): Redis, then the origin. */
  async #getOrLoad(id: string, loader: () => Promise<Loaded<T>>, span: Span): Promise<CacheResult<T>> {
    const now = Date.now();
    let remote: CacheEntry<T> | undefined;
    try {
      remote = await this.#readRemote(id);
    } catch {
      // Cache Redis unreachable: fail open to the origin (slower, still correct), cache nothing.
      this.#metrics?.cacheRequests.inc({ namespace: this.#namespace, tier: 'bypass' });
      span.setAttribute('cache.bypass', true);
      const loaded = await loader();
      return { value: loaded?.value ?? null, tier: 'miss' };
    }
    if (remote && !remote.tomb) {
      if (remote.fresh > now) {
        this.#fillLocal(id, remote);
        return this.#hit(remote, 'l2');
      }
      // Stale but inside the stale window (Redis would have dropped it otherwise): serve it, refresh once.
      if (this.#staleMs > 0) {
        void this.#load(id, loader, remote.ver).catch(() => {});
        return this.#hit(remote, 'stale');
      }
    }
    const entry = await this.#load(id, loader, remote?.ver ?? 0);
    return { value: entry.v, tier: 'miss' };
  }

  /** Write a new value (write-through after an update) and tell other instances to drop theirs. */
  async set(id: string, value: T, version: number): Promise<boolean> {
    const entry: CacheEntry<T> = { v: value, ver: version, fresh: Date.now() + this.#ttl(this.#ttlMs) };
    const written = await this.#write(id, entry);
    // Our own broadcast is skipped on receipt, so update our L1 here (or drop it if a newer version won).
    if (written) this.#fillLocal(id, entry);
    else this.#dropLocal(id);
    await this.#broadcast([id], version);
    return written;
  }

  /**
   * Remove `ids` from every tier of every instance. With `version`, a tombstone keeps
   * that version so a slower loader holding an older row cannot write it back.
   */
  async invalidate(ids: string[], version?: number): Promise<void> {
    for (const id of ids) this.#dropLocal(id, version);
    if (version === undefined) {
      if (ids.length) await this.#redis.del(...ids.map(this.#key));
    } else {
      const tomb: CacheEntry<T> = { v: null, ver: version, fresh: 0, tomb: true };
      await Promise.all(ids.map((id) => this.#write(id, tomb)));
    }
    await this.#broadcast(ids, version);
  }

  #hit(entry: CacheEntry<T>, tier: CacheTier): CacheResult<T> {
    this.#metrics?.cacheRequests.inc({ namespace: this.#namespace, tier });
    return { value: entry.v, tier };
  }

  #l1Usable(): boolean {
    // Without a live subscriber we would miss invalidations: skip L1 rather than serve stale copies.
    return this.#l1 !== undefined && (this.#subscriber === undefined || this.#subscriber.status === 'ready');
  }

  #ttl(base: number): number {
    return Math.max(1, Math.round(base * (1 + this.#jitter * (2 * Math.random() - 1))));
  }

  async #readRemote(id: string): Promise<CacheEntry<T> | undefined> {
    // Not connected to a replica (none left after a failover: ioredis keeps looking and does
    // not fall back): read the primary at once rather than wait for the command timeout. Only
    // before its first connect does a read wait for the replica connection.
    if (this.#replica && this.#replica.status !== 'ready' && this.#replicaWasReady) {
      this.#metrics?.cacheReplicaReads.inc({ namespace: this.#namespace, outcome: 'error' });
    } else if (this.#replica) {
      let fromReplica: CacheEntry<T> | undefined;
      try {
        fromReplica = this.#decode(await this.#replica.get(this.#key(id)));
      } catch {
        this.#metrics?.cacheReplicaReads.inc({ namespace: this.#namespace, outcome: 'error' });
        return this.#decode(await this.#redis.get(this.#key(id)));
      }
      // Behind an invalidation we heard (the replica has not caught up): ask the primary.
      const heard = this.#l1?.get(id, { allowStale: true });
      if (heard?.tomb && (fromReplica === undefined || fromReplica.ver < heard.ver)) {
        this.#metrics?.cacheReplicaReads.inc({ namespace: this.#namespace, outcome: 'behind' });
        return this.#decode(await this.#redis.get(this.#key(id)));
      }
      this.#metrics?.cacheReplicaReads.inc({ namespace: this.#namespace, outcome: 'served' });
      return fromReplica;
    }
    return this.#decode(await this.#redis.get(this.#key(id)));
  }

  #decode(raw: string | null): CacheEntry<T> | undefined {
    if (!raw) return undefined;
    try {
      return decodeEntry<T>(raw);
    } catch {
      // Unreadable (a codec this version does not know): a miss; the load overwrites it.
      return undefined;
    }
  }

  #fillLocal(id: string, entry: CacheEntry<T>): void {
    if (!this.#l1Usable()) return;
    const current = this.#l1?.get(id);
    if (current && current.ver > entry.ver) return;
    this.#l1?.set(id, entry, { ttl: Math.max(1, Math.min(this.#l1.ttl, entry.fresh - Date.now())) });
  }

  #dropLocal(id: string, version?: number): void {
    if (!this.#l1) return;
    if (version === undefined) this.#l1.delete(id);
    else this.#l1.set(id, { v: null, ver: version, fresh: 0, tomb: true });
  }

  async #write(id: string, entry: CacheEntry<T>): Promise<boolean> {
    const px = Math.max(1, entry.fresh - Date.now()) + this.#staleMs;
    const tombPx = this.#loadLockTtlMs * 2;
    const { text, rawBytes } = encodeEntry(entry, this.#compression);
    if (rawBytes !== undefined) {
      this.#metrics?.cacheValueBytes.inc({ namespace: this.#namespace, form: 'raw' }, rawBytes);
      this.#metrics?.cacheValueBytes.inc({ namespace: this.#namespace, form: 'stored' }, Buffer.byteLength(text));
    }
    const result = await versionedSetScript(this.#redis)(this.#key(id), text, entry.ver, entry.tomb ? tombPx : px);
    return result === 1;
  }

  async #broadcast(ids: string[], version?: number): Promise<void> {
    const message: InvalidationMessage = { origin: this.#origin, ids, ...(version === undefined ? {} : { version }) };
    await this.#redis.publish(this.#channel, JSON.stringify(message));
    this.#metrics?.cacheInvalidations.inc({ namespace: this.#namespace, direction: 'sent' });
  }

  /** Single-flight in the process, then a short Redis lock across processes. */
  #load(id: string, loader: () => Promise<Loaded<T>>, knownVersion: number): Promise<CacheEntry<T>> {
    const existing = this.#inflight.get(id);
    if (existing) {
      this.#metrics?.cacheStampedesSuppressed.inc({ namespace: this.#namespace, scope: 'process' });
      return existing;
    }
    const promise = this.#loadAcrossProcesses(id, loader, knownVersion).finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, promise);
    return promise;
  }

  async #loadAcrossProcesses(id: string, loader: () => Promise<Loaded<T>>, knownVersion: number): Promise<CacheEntry<T>> {
    const lockKey = `${this.#key(id)}:loading`;
    const token = randomBytes(8).toString('hex');
    const locked = (await this.#redis.set(lockKey, token, 'PX', this.#loadLockTtlMs, 'NX')) === 'OK';
    if (!locked) {
      this.#metrics?.cacheStampedesSuppressed.inc({ namespace: this.#namespace, scope: 'cluster' });
      // Someone else is loading: wait for their write, up to the lock's TTL, then load ourselves.
      const deadline = Date.now() + this.#loadLockTtlMs;
      while (Date.now() < deadline) {
        await sleep(10);
        // Look at the lock first, then the value: the winner writes before it releases, so
        // if the lock was already gone, its write is visible to the read that follows.
        const lockHeld = (await this.#redis.exists(lockKey)) === 1;
        const remote = await this.#readRemote(id);
        if (remote && !remote.tomb && remote.fresh > Date.now() && remote.ver >= knownVersion) {
          this.#fillLocal(id, remote);
          return remote;
        }
        if (!lockHeld) break;
      }
    }
    try {
      const end = this.#metrics?.cacheLoadDuration.startTimer({ namespace: this.#namespace });
      const loaded = await loader();
      end?.();
      this.#metrics?.cacheRequests.inc({ namespace: this.#namespace, tier: 'miss' });
      const entry: CacheEntry<T> = loaded
        ? { v: loaded.value, ver: loaded.version, fresh: Date.now() + this.#ttl(this.#ttlMs) }
        : { v: null, ver: 0, fresh: Date.now() + this.#ttl(this.#negativeTtlMs) };
      if (await this.#write(id, entry)) this.#fillLocal(id, entry);
      return entry;
    } finally {
      // Compare-and-delete: the lock may have expired and been taken by another loader.
      if (locked) await releaseScript(this.#redis)(lockKey, token);
    }
  }
}

import { randomBytes } from 'node:crypto';
import {
  keys,
  type NotificationJob,
  type OrderExpiryJob,
  type Product,
  queueKey,
  queues as queueNames,
  type Rankings,
  REGISTRY_PREFIX,
  SERVICE_NAMES,
  type StorefrontEvent,
} from '@storefront/contracts';
import {
  type AclAudit,
  type AclLogEntry,
  clusterShards,
  type Discovery,
  type EventBus,
  type LiveInstance,
  type RedisClient,
  registryKeys,
  shardForSlot,
} from '@storefront/redis-kit';
import type { Queue } from 'bullmq';
import calculateSlot from 'cluster-key-slot';
import { CHARTED, type HistoryPoint, MetricsHistory } from './history.js';
import { parseSamples } from './metrics-text.js';

const EVENT_TYPES = [
  'product.updated',
  'stock.changed',
  'order.placed',
  'order.paid',
  'order.cancelled',
  'order.expired',
] as const;
const SCRAPED = new Set(['cache_requests_total', 'circuit_breaker_state', ...CHARTED]);

/** What the page shows, refreshed every second. */
export interface Snapshot {
  at: string;
  instances: Record<string, { instanceId: string; url: string; expiresInMs: number }[]>;
  /** Cache reads by tier across catalog instances, and the share served from a cache tier. */
  cache: { tiers: Record<string, number>; hitRatio: number | null };
  breakers: { instanceId: string; breaker: string; state: 'closed' | 'half-open' | 'open' }[];
  stock: Pick<Product, 'id' | 'name' | 'stock' | 'priceCents'>[];
  queues: Record<string, Record<string, number>>;
  /**
   * On a Redis Cluster: each shard (primary, slot ranges, replicas) and what of the shop's it
   * holds — each queue, each service's registry, each product's stock lock and cache entry.
   * Null on one Redis (or when the Cluster did not answer).
   */
  shards: { primary: string; slots: string; replicas: string[]; failed: boolean; holds: string[] }[] | null;
  events: { type: string; at: string; summary: string }[];
  /**
   * Who Redis refused, and why (`ACL LOG` on every primary): the newest entries and the
   * refusals per user. Null when the log could not be read.
   */
  aclAudit: {
    entries: { user: string; reason: string; object: string; count: number; ageSeconds: number; node: string }[];
    byUser: Record<string, number>;
  } | null;
  /**
   * Catalog's live rankings over the last 15 minutes (best-selling, most-watched, orders per
   * minute), or the last ones read while catalog does not answer; null before the first.
   */
  rankings: Rankings | null;
  /** The charts: one point per refresh over the last minutes (orders/s and latency, cache tiers, locks, queues, registry). */
  history: readonly HistoryPoint[];
}

/**
 * A `traceparent` that says "do not record": the dashboard's own polling of catalog (every
 * second) would otherwise be a trace a second, burying the orders'. Catalog's parent-based
 * sampler follows the caller's decision.
 */
const notSampled = () => ({ traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00` });

/** Refusals per ACL user across the log's entries (each entry counts its repeats). */
const totalsByUser = (entries: readonly AclLogEntry[]): Record<string, number> => {
  const totals: Record<string, number> = {};
  for (const e of entries) totals[e.username] = (totals[e.username] ?? 0) + e.count;
  return totals;
};

const summarize = (event: StorefrontEvent): string => {
  switch (event.type) {
    case 'order.placed':
      return `${event.data.customerId} ordered ${event.data.items.map((i) => `${i.quantity}× ${i.productId}`).join(', ')}`;
    case 'stock.changed':
      return `${event.data.productId}: ${event.data.previousStock} → ${event.data.stock} (${event.data.reason})`;
    case 'product.updated':
      return `${event.data.productId} now ${event.data.priceCents} cents`;
    default:
      return 'orderId' in event.data ? `order ${String(event.data.orderId).slice(0, 8)}` : event.type;
  }
};

/**
 * Collects the dashboard's view from the same places the services use: the registry
 * (one Discovery per service), each instance's /metrics, catalog's API, BullMQ's queue
 * counts, and the event bus.
 */
export class DashboardState {
  readonly #events: Snapshot['events'] = [];
  readonly #history = new MetricsHistory();
  #snapshot: Snapshot | undefined;

  /**
   * @param staleAfterMs a registry not read for this long is unknown (Redis is not
   *   answering): {@link registryKnown} says so, and `/sd/targets` answers 503 instead of a
   *   list that has lost its expired entries
   */
  constructor(
    private readonly discoveries: Record<string, Discovery>,
    private readonly queues: { notifications: Queue<NotificationJob>; expiries: Queue<OrderExpiryJob> },
    private readonly staleAfterMs = 3_000,
    private readonly redis?: RedisClient,
    private readonly aclAudit?: AclAudit,
  ) {}

  /** Keep the last 50 events. */
  async listen(bus: EventBus<StorefrontEvent>): Promise<void> {
    for (const type of EVENT_TYPES) {
      await bus.subscribe(type, (event) => {
        this.#events.unshift({ type: event.type, at: event.occurredAt, summary: summarize(event) });
        this.#events.length = Math.min(this.#events.length, 50);
      });
    }
  }

  /** The instances of a service discovery currently knows. */
  instances(service: string): LiveInstance[] {
    return this.discoveries[service]?.instances() ?? [];
  }

  /**
   * Every service's instances as of its last registry read, or undefined when some read is
   * older than `staleAfterMs` (the registry is unknown, not empty).
   */
  registeredInstances(): Record<string, readonly LiveInstance[]> | undefined {
    const now = Date.now();
    const reads = SERVICE_NAMES.map((service) => [service, this.discoveries[service]?.lastRead] as const);
    if (reads.some(([, read]) => !read || now - read.at > this.staleAfterMs)) return undefined;
    return Object.fromEntries(reads.map(([service, read]) => [service, read!.instances]));
  }

  get latest(): Snapshot | undefined {
    return this.#snapshot;
  }

  async refresh(): Promise<Snapshot> {
    const now = Date.now();
    const instances = Object.fromEntries(
      SERVICE_NAMES.map((service) => [
        service,
        this.instances(service).map((i) => ({
          instanceId: i.instanceId,
          url: `http://${i.host}:${i.port}`,
          expiresInMs: i.expiresAt - now,
        })),
      ]),
    );
    const all = SERVICE_NAMES.flatMap((s) => this.instances(s));
    const scraped = await Promise.all(
      all.map(async (i) => {
        try {
          const res = await fetch(`http://${i.host}:${i.port}/metrics`, { signal: AbortSignal.timeout(1000) });
          return { instance: i, samples: parseSamples(await res.text(), SCRAPED) };
        } catch {
          return { instance: i, samples: [] };
        }
      }),
    );
    const cache: Record<string, number> = { l1: 0, l2: 0, stale: 0, miss: 0, bypass: 0 };
    const breakers: Snapshot['breakers'] = [];
    for (const { instance, samples } of scraped) {
      for (const s of samples) {
        if (s.name === 'cache_requests_total' && s.labels.tier) cache[s.labels.tier] = (cache[s.labels.tier] ?? 0) + s.value;
        if (s.name === 'circuit_breaker_state' && s.labels.breaker) {
          breakers.push({
            instanceId: instance.instanceId,
            breaker: s.labels.breaker,
            state: (['closed', 'half-open', 'open'] as const)[s.value] ?? 'closed',
          });
        }
      }
    }
    const reads = (cache.l1 ?? 0) + (cache.l2 ?? 0) + (cache.stale ?? 0) + (cache.miss ?? 0) + (cache.bypass ?? 0);
    const catalog = this.instances('catalog')[0];
    let stock: Snapshot['stock'] = [];
    if (catalog) {
      try {
        const res = await fetch(`http://${catalog.host}:${catalog.port}/products?limit=100`, {
          headers: notSampled(),
          signal: AbortSignal.timeout(1000),
        });
        stock = ((await res.json()) as { items: Product[] }).items.map(({ id, name, stock, priceCents }) => ({
          id,
          name,
          stock,
          priceCents,
        }));
      } catch {
        stock = this.#snapshot?.stock ?? [];
      }
    }
    let rankings = this.#snapshot?.rankings ?? null;
    if (catalog) {
      try {
        const res = await fetch(`http://${catalog.host}:${catalog.port}/rankings?window=15&limit=5`, {
          headers: notSampled(),
          signal: AbortSignal.timeout(1000),
        });
        if (res.ok) rankings = (await res.json()) as Rankings;
      } catch {
        // keep the last ones read
      }
    }
    const [notifications, expiries] = await Promise.all([
      this.queues.notifications.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed'),
      this.queues.expiries.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed'),
    ]);
    const shards = await this.shardMap(stock.map((p) => p.id)).catch(() => null);
    const acl = this.aclAudit ? await this.aclAudit.read().catch(() => null) : null;
    const depth = (c: Record<string, number>) => (c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0);
    this.#history.record(
      now,
      scraped.map(({ instance, samples }) => ({ instanceId: instance.instanceId, samples })),
      { notifications: depth(notifications), 'order-expiry': depth(expiries) },
      all.length,
    );
    const snapshot: Snapshot = {
      at: new Date(now).toISOString(),
      instances,
      cache: { tiers: cache, hitRatio: reads ? ((cache.l1 ?? 0) + (cache.l2 ?? 0) + (cache.stale ?? 0)) / reads : null },
      breakers,
      stock,
      queues: { notifications, 'order-expiry': expiries },
      shards,
      events: [...this.#events],
      rankings,
      history: [...this.#history.points],
      aclAudit: acl && {
        entries: acl.slice(0, 20).map((e) => ({
          user: e.username,
          reason: e.reason,
          object: e.object,
          count: e.count,
          ageSeconds: Math.round(e.ageSeconds),
          node: e.node,
        })),
        byUser: totalsByUser(acl),
      },
    };
    this.#snapshot = snapshot;
    return snapshot;
  }

  /** Which shard holds what, by the slot of each key (the Cluster's own map, read now). */
  private async shardMap(productIds: string[]): Promise<Snapshot['shards']> {
    const shards = this.redis ? await clusterShards(this.redis) : undefined;
    if (!shards) return null;
    const registry = registryKeys(REGISTRY_PREFIX);
    const things: [string, string][] = [
      ...Object.values(queueNames).map((q): [string, string] => [`queue ${q}`, queueKey(q, 'meta')]),
      ...SERVICE_NAMES.map((service): [string, string] => [`registry ${service}`, registry.index(service)]),
      ...productIds.flatMap((id): [string, string][] => [
        [`lock ${id}`, keys.catalog.stockLock(id)],
        [`cache ${id}`, keys.catalog.productCache(id)],
      ]),
    ];
    const holds = new Map(shards.map((s) => [s, [] as string[]]));
    for (const [label, key] of things) {
      const shard = shardForSlot(shards, calculateSlot(key));
      if (shard) holds.get(shard)!.push(label);
    }
    return shards.map((s) => ({
      primary: s.primary,
      slots: s.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', '),
      replicas: s.replicas,
      failed: s.failed,
      holds: holds.get(s)!,
    }));
  }
}

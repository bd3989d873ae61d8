import { createRedis, type RedisClient, TwoTierCache } from '@storefront/redis-kit';
import { adminCommand, startSentinelTopology } from '@storefront/testing';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { median, percentile } from './stats.js';

type Product = { id: string; priceCents: number };

/**
 * L2 reads (L1 off) of 50 cached products on a Sentinel topology of its own (primary,
 * replica, three Sentinels on loopback), 32 readers in flight: from the replica against from
 * the primary alone, rounds interleaved; and the replication delay a replica read can lag:
 * the time from a write on the primary to the replica holding it, over 200 writes.
 */
export const replicaReads = async (_env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const topology = await startSentinelTopology();
  const opened: RedisClient[] = [];
  const connect = (readFrom: 'primary' | 'replica' = 'primary') => {
    const c = createRedis(
      { url: 'redis://127.0.0.1:6379', sentinels: topology.sentinelAddresses, sentinelName: topology.masterName },
      { readFrom },
    );
    c.on('error', () => {});
    opened.push(c);
    return c;
  };
  try {
    const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
    const writer = new TwoTierCache<Product>(connect(), undefined, { namespace: 'bench-rr', l1: false });
    for (const id of ids) await writer.set(id, { id, priceCents: 100 }, 1);
    await adminCommand(topology.primary.port, 'WAIT', 1, 2000);
    const caches = {
      primary: new TwoTierCache<Product>(connect(), undefined, { namespace: 'bench-rr', l1: false }),
      replica: new TwoTierCache<Product>(connect(), undefined, {
        namespace: 'bench-rr',
        l1: false,
        replicaReads: connect('replica'),
      }),
    };
    let correct = true;
    const readsPerSecond = async (cache: TwoTierCache<Product>) => {
      let n = 0;
      const until = performance.now() + budget.loopMs;
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          while (performance.now() < until) {
            const id = ids[(n + w) % ids.length]!;
            const r = await cache.getOrLoad(id, async () => null);
            correct &&= r.tier === 'l2' && r.value?.id === id;
            n++;
          }
        }),
      );
      return n / (budget.loopMs / 1000);
    };
    const rates = { primary: [] as number[], replica: [] as number[] };
    for (let round = 0; round < budget.rounds; round++) {
      // Alternate which goes first, so warm-up favours neither; one warm-up pass before the first round.
      if (round === 0) await readsPerSecond(caches.primary);
      for (const mode of round % 2 ? (['replica', 'primary'] as const) : (['primary', 'replica'] as const)) {
        rates[mode].push(await readsPerSecond(caches[mode]));
      }
      budget.log(
        `  replica reads round ${round + 1}/${budget.rounds}: replica ${Math.round(rates.replica.at(-1)!)}/s, primary ${Math.round(rates.primary.at(-1)!)}/s`,
      );
    }
    // Replication delay: write on the primary, poll the replica until it has the value.
    const primary = connect();
    const replica = connect('replica');
    const lags: number[] = [];
    for (let i = 0; i < (budget.quick ? 20 : 200); i++) {
      const started = performance.now();
      await primary.set('bench-rr:lag', String(i));
      while ((await replica.get('bench-rr:lag')) !== String(i)) {
        if (performance.now() - started > 5_000) {
          correct = false;
          break;
        }
      }
      lags.push(performance.now() - started);
    }
    const fromReplica = median(rates.replica);
    const fromPrimary = median(rates.primary);
    return [
      {
        name: 'cache L2 reads from the replica vs the primary alone (Sentinel, 32 in flight)',
        measured: `${Math.round(fromReplica)} reads/s`,
        ceiling: `${Math.round(fromPrimary)} reads/s (primary only)`,
        ratio: fromReplica / fromPrimary,
        goal: '≥ 0.8x: the reads leave the primary at little cost (one machine: no extra cores to gain)',
        met: fromReplica / fromPrimary >= 0.8,
        correct,
        note: `a replica read lags a write by p50 ${percentile(lags, 50).toFixed(2)} ms, p99 ${percentile(lags, 99).toFixed(2)} ms (write → visible on the replica, ${lags.length} writes, loopback)`,
      },
    ];
  } finally {
    for (const c of opened) c.disconnect();
    await topology.stop();
  }
};

import { createRedis, type RedisClient, RedisLock } from '@storefront/redis-kit';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { forDuration, median } from './stats.js';

const DECREMENT = `
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock >= tonumber(ARGV[1]) then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return -1`;

/** One lock-protected read-modify-write of a counter: the unit both lock benchmarks count. */
const lockedIncrement = (lock: RedisLock, redis: RedisClient, key: string) =>
  lock.withLock(key, async () => {
    const value = Number(await redis.get(`${key}:counter`));
    await redis.set(`${key}:counter`, value + 1);
  });

/**
 * 50 contenders (own connections) on one hot key, against one uncontended client doing
 * the same loop; with blind (jittered) polling and with the fair hand-off (a queue, each
 * release handing the lock to the waiter first in line). Rounds interleave the three
 * (uncontended, polling, hand-off) and each figure is the median of its rounds, as in the
 * other suites. Lost updates: the counter must equal the number of completed critical
 * sections. Fairness: the fewest and the most critical sections one contender completed.
 */
export const lockContention = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const clients: RedisClient[] = [];
  const connect = (role: 'command' | 'subscriber' = 'command') => {
    const c = createRedis({ url: env.redis.url }, { role });
    clients.push(c);
    return c;
  };
  const single = connect();
  const soloLock = new RedisLock(single);
  const modes = ['polling', 'hand-off'] as const;
  const contenders = Object.fromEntries(
    modes.map((mode) => [
      mode,
      Array.from({ length: 50 }, () => {
        const redis = connect();
        const lock = new RedisLock(redis, {
          acquireTimeoutMs: 60_000,
          retryDelayMs: 5,
          ...(mode === 'hand-off' ? { handOff: connect('subscriber') } : {}),
        });
        return { redis, lock };
      }),
    ]),
  ) as Record<(typeof modes)[number], { redis: RedisClient; lock: RedisLock }[]>;
  const hotKey = (mode: (typeof modes)[number]) => `bench:lock:hot:${mode}`;
  const perSecond = (n: number) => n / (budget.loopMs / 1000);
  const solo: number[] = [];
  const contended = { polling: [] as number[], 'hand-off': [] as number[] };
  const runs = { polling: [] as number[][], 'hand-off': [] as number[][] };
  for (let round = 0; round < budget.rounds; round++) {
    solo.push(perSecond(await forDuration(budget.loopMs, () => lockedIncrement(soloLock, single, 'bench:lock:solo'))));
    for (const mode of modes) {
      const key = hotKey(mode);
      const counts = await Promise.all(
        contenders[mode].map(({ redis, lock }) => forDuration(budget.loopMs, () => lockedIncrement(lock, redis, key))),
      );
      runs[mode].push(counts);
      contended[mode].push(perSecond(counts.reduce((a, b) => a + b, 0)));
    }
  }
  const soloRate = median(solo);
  const rows: Row[] = [];
  for (const mode of modes) {
    const key = hotKey(mode);
    const all = runs[mode].flat();
    const total = all.reduce((a, b) => a + b, 0);
    const counter = Number(await single.get(`${key}:counter`));
    const rate = median(contended[mode]);
    const [fewest, most] = [Math.min(...all), Math.max(...all)];
    budget.log(
      `  lock ${mode}: ${Math.round(rate)} ops/s contended vs ${Math.round(soloRate)} uncontended (medians of ${budget.rounds}); counter ${counter}/${total}; per contender per round ${fewest}–${most}`,
    );
    const goal = mode === 'hand-off' ? 0.8 : 0.6;
    rows.push({
      name: `lock, 50 contenders on one key (${mode})`,
      measured: `${Math.round(rate)} ops/s`,
      ceiling: `1 uncontended client ${Math.round(soloRate)} ops/s`,
      ratio: rate / soloRate,
      goal: `>= ${goal}x ops/s, zero lost updates`,
      met: rate / soloRate >= goal && counter === total,
      correct: counter === total,
      note: `${total} critical sections, counter ${counter}; each contender completed ${fewest}–${most} per round; rounds ${contended[mode].map((r) => Math.round(r)).join(', ')} vs uncontended ${solo.map((r) => Math.round(r)).join(', ')} ops/s`,
    });
  }
  for (const c of clients) c.disconnect();
  return rows;
};

/** Stock decrement by one Lua script against the lock path (acquire, read, write, release), one client. */
export const luaVersusLock = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const redis = createRedis({ url: env.redis.url });
  redis.defineCommand('benchDecrement', { numberOfKeys: 1, lua: DECREMENT });
  const decrement = (redis as unknown as { benchDecrement(key: string, n: number): Promise<number> }).benchDecrement.bind(redis);
  await redis.set('bench:stock:lua', 10_000_000);
  await redis.set('bench:stock:lock', 10_000_000);
  const lock = new RedisLock(redis);
  const rates = { lua: [] as number[], lock: [] as number[] };
  for (let round = 0; round < budget.rounds; round++) {
    rates.lua.push((await forDuration(budget.loopMs / 2, () => decrement('bench:stock:lua', 1))) / (budget.loopMs / 2000));
    rates.lock.push(
      (await forDuration(budget.loopMs / 2, () =>
        lock.withLock('bench:stock:lock:l', async () => {
          const stock = Number(await redis.get('bench:stock:lock'));
          if (stock >= 1) await redis.set('bench:stock:lock', stock - 1);
        }),
      )) /
        (budget.loopMs / 2000),
    );
  }
  const [medLua, medLock] = [median(rates.lua), median(rates.lock)];
  budget.log(`  lua ${Math.round(medLua)} ops/s vs lock ${Math.round(medLock)} ops/s`);
  redis.disconnect();
  return [
    {
      name: 'stock decrement: one Lua script vs the lock path, 1 client',
      measured: `Lua ${Math.round(medLua)} ops/s`,
      ceiling: `lock path ${Math.round(medLock)} ops/s`,
      ratio: medLua / medLock,
      goal: '>= 3x ops/s',
      met: medLua / medLock >= 3,
      correct: true,
    },
  ];
};

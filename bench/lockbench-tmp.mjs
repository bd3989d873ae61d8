import { createRedis, RedisLock } from '@storefront/redis-kit';

const url = process.argv[2];
const mode = process.argv[3];
const ms = Number(process.argv[4] ?? 3000);
const clients = [];
const connect = (role = 'command') => {
  const c = createRedis({ url }, { role });
  clients.push(c);
  return c;
};
const inc = (lock, redis, key) =>
  lock.withLock(key, async () => {
    const v = Number(await redis.get(`${key}:counter`));
    await redis.set(`${key}:counter`, v + 1);
  });
const loop = async (fn) => {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n;
};
const admin = connect();
const stats = async () =>
  Object.fromEntries(
    (await admin.info('commandstats'))
      .split('\n')
      .filter((l) => l.startsWith('cmdstat_'))
      .map((l) => [l.split(':')[0].slice(8), Number(/calls=(\d+)/.exec(l)[1])]),
  );
const single = connect();
const solo = await loop(() => inc(new RedisLock(single), single, `solo:${mode}`));
const s0 = await stats();
const cs = Array.from({ length: 50 }, () => {
  const redis = connect();
  return {
    redis,
    lock: new RedisLock(redis, {
      acquireTimeoutMs: 60000,
      retryDelayMs: 5,
      ...(mode === 'handoff' ? { handOff: connect('subscriber') } : {}),
    }),
  };
});
const counts = await Promise.all(cs.map(({ redis, lock }) => loop(() => inc(lock, redis, `hot:${mode}`))));
const s1 = await stats();
const total = counts.reduce((a, b) => a + b, 0);
console.log(
  mode,
  'solo',
  Math.round(solo / (ms / 1000)),
  'contended',
  Math.round(total / (ms / 1000)),
  'ratio',
  (total / solo).toFixed(2),
);
const per = Object.entries(s1)
  .map(([k, v]) => [k, ((v - (s0[k] ?? 0)) / total).toFixed(2)])
  .filter(([, v]) => v > 0.01);
console.log('commands per critical section', JSON.stringify(Object.fromEntries(per)));
for (const c of clients) c.disconnect();

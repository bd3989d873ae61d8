import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createRedis, Discovery } from '@storefront/redis-kit';
import { lineReader, track } from '@storefront/testing';
import type { BenchEnv, Budget, Row } from './bench-env.js';
import { median } from './stats.js';

const memberScript = fileURLToPath(new URL('./registry-member.js', import.meta.url));

/** SIGKILL a registered process; time until discovery (pub/sub + 100 ms polls) no longer lists it. */
export const registryExpiry = async (env: BenchEnv, budget: Budget): Promise<Row[]> => {
  const ttlMs = 1000;
  const heartbeatMs = Math.floor(ttlMs / 3);
  const redis = createRedis({ url: env.redis.url });
  const subscriber = createRedis({ url: env.redis.url }, { role: 'subscriber' });
  const discovery = new Discovery(redis, subscriber, 'bench-svc', { refreshMs: 100 });
  await discovery.start();
  const gone: number[] = [];
  for (let run = 0; run < (budget.quick ? 1 : 5); run++) {
    const id = `member-${run}`;
    const child = track(
      spawn(process.execPath, [memberScript, env.redis.url, 'bench-svc', id, String(ttlMs)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    await lineReader(child.stdout!).nextJson();
    while (!discovery.instances().some((i) => i.instanceId === id)) await new Promise((r) => setTimeout(r, 10));
    // Kill at a random point of the heartbeat cycle.
    await new Promise((r) => setTimeout(r, Math.random() * heartbeatMs));
    const killedAt = performance.now();
    child.kill('SIGKILL');
    await once(child, 'exit');
    while (discovery.instances().some((i) => i.instanceId === id)) await new Promise((r) => setTimeout(r, 5));
    gone.push(performance.now() - killedAt);
  }
  await discovery.stop();
  redis.disconnect();
  subscriber.disconnect();
  const worst = Math.max(...gone);
  budget.log(`  registry: gone after median ${Math.round(median(gone))} ms, worst ${Math.round(worst)} ms (TTL ${ttlMs})`);
  return [
    {
      name: 'registry: SIGKILLed instance → gone from discovery',
      measured: `median ${Math.round(median(gone))} ms, worst ${Math.round(worst)} ms over ${gone.length} kills`,
      ceiling: `TTL ${ttlMs} ms (+ heartbeat ${heartbeatMs} ms)`,
      ratio: worst / ttlMs,
      goal: '<= TTL + one heartbeat',
      met: worst <= ttlMs + heartbeatMs,
      correct: true,
    },
  ];
};

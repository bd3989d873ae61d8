import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Sweeper } from './sweeper.js';

const logger = pino({ level: 'silent' });

describe('Sweeper', () => {
  it('counts resolved items and failed runs, and keeps its schedule after a failure', async () => {
    const registry = new Registry();
    const results: (() => Promise<number>)[] = [
      async () => 3,
      async () => {
        throw new Error('database unreachable');
      },
      async () => 2,
    ];
    const sweeper = new Sweeper(() => results.shift()!(), { name: 'test', intervalMs: 5, logger, registry });
    expect(await sweeper.runOnce()).toBe(3);
    expect(await sweeper.runOnce()).toBe(0);
    expect(await sweeper.runOnce()).toBe(2);
    const text = await registry.metrics();
    expect(text).toMatch(/sweeper_resolved_total\{sweeper="test"\} 5/);
    expect(text).toMatch(/sweeper_runs_total\{sweeper="test",outcome="ok"\} 2/);
    expect(text).toMatch(/sweeper_runs_total\{sweeper="test",outcome="failed"\} 1/);
  });

  it('never overlaps two runs, and stop() waits for the run in progress', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let release: (() => void) | undefined;
    const sweeper = new Sweeper(
      async () => {
        running++;
        most = Math.max(most, running);
        runs++;
        // The second run blocks until the test lets it go.
        if (runs === 2) await new Promise<void>((r) => (release = r));
        running--;
        return 0;
      },
      { name: 'slow', intervalMs: 1, logger, registry: new Registry() },
    );
    sweeper.start();
    while (!release) await new Promise((r) => setTimeout(r, 1));
    let stopped = false;
    const stopping = sweeper.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false); // still waiting for the run in hand
    release();
    await stopping;
    expect(most).toBe(1);
    expect(runs).toBe(2); // nothing ran after stop()
  });
});

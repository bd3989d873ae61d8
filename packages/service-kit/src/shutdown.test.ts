import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Shutdown } from './shutdown.js';

describe('Shutdown', () => {
  it('runs steps once, phase by phase, and keeps going after a failing step', async () => {
    const ran: string[] = [];
    const step =
      (name: string, fail = false) =>
      () => {
        ran.push(name);
        if (fail) throw new Error(`${name} failed`);
      };
    const shutdown = new Shutdown(pino({ level: 'silent' }))
      .add('redis', 'quit redis', step('redis'))
      .add('workers', 'close worker', step('workers', true))
      .add('http', 'drain', step('http'))
      .add('readiness', 'not ready', step('readiness'))
      .add('queues', 'close queue', step('queue'))
      .add('workers', 'stop relay', step('relay'));
    const [first, second] = await Promise.all([shutdown.run(), shutdown.run()]);
    expect(ran).toEqual(['readiness', 'http', 'workers', 'relay', 'queue', 'redis']);
    expect(first).toBe(false);
    expect(second).toBe(false);
  });

  it('moves on from a step that never finishes, after its deadline, and reports the failure', async () => {
    const ran: string[] = [];
    const shutdown = new Shutdown(pino({ level: 'silent' }), 50)
      .add('workers', 'unsubscribe from a Redis that is gone', () => new Promise(() => {}))
      .add('database', 'close pool', () => {
        ran.push('database');
      });
    const started = performance.now();
    expect(await shutdown.run()).toBe(false);
    expect(ran).toEqual(['database']);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

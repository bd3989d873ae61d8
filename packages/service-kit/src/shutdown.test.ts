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
});

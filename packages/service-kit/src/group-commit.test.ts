import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

/** A write that records each batch it was given and holds it until released. */
const recordingWrite = () => {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const write = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((release) => gates.push(release));
    return items.map((n) => n * 10);
  };
  return { batches, write, releaseNext: () => gates.shift()?.() };
};

const settled = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('writes a lone item on its own, and the items that arrive meanwhile together in the next write', async () => {
    const { batches, write, releaseNext } = recordingWrite();
    const commit = new GroupCommit(write);
    const first = commit.add(1);
    await settled();
    expect(batches).toEqual([[1]]);
    const later = [2, 3, 4].map((n) => commit.add(n));
    await settled();
    expect(batches).toEqual([[1]]); // waiting for the write in flight
    releaseNext();
    expect(await first).toBe(10);
    await settled();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releaseNext();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('groups the items of one tick, and splits a crowd into batches of maxBatch', async () => {
    const { batches, write, releaseNext } = recordingWrite();
    const commit = new GroupCommit(write, { maxBatch: 2 });
    const all = Promise.all([1, 2, 3, 4, 5].map((n) => commit.add(n)));
    for (let i = 0; i < 3; i++) {
      await settled();
      releaseNext();
    }
    expect(await all).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails every caller of a batch whose write failed, and goes on with the next batch', async () => {
    let calls = 0;
    const commit = new GroupCommit(async (items: number[]) => {
      calls++;
      if (calls === 1) throw new Error('database down');
      return items;
    });
    const failed = [commit.add(1), commit.add(2)].map((p) => p.catch((e: Error) => e.message));
    expect(await Promise.all(failed)).toEqual(['database down', 'database down']);
    expect(await commit.add(3)).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { GroupCommit, KeyedGroupCommit } from './group-commit.js';

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

describe('KeyedGroupCommit', () => {
  it('groups items only with items of their own key, and forgets a key once its items are written', async () => {
    const batches: string[] = [];
    const gates: (() => void)[] = [];
    const commit = new KeyedGroupCommit(async (key: string, items: number[]) => {
      batches.push(`${key}:${items.join(',')}`);
      await new Promise<void>((release) => gates.push(release));
      return items.map((n) => `${key}${n}`);
    });
    const firsts = [commit.add('a', 1), commit.add('b', 2)];
    await settled();
    const laters = [commit.add('a', 3), commit.add('b', 4), commit.add('a', 5)];
    await settled();
    expect(batches).toEqual(['a:1', 'b:2']); // each key's first write in flight at once
    expect(commit.activeKeys).toBe(2);
    for (const release of gates.splice(0)) release();
    expect(await Promise.all(firsts)).toEqual(['a1', 'b2']);
    await settled();
    expect(batches).toEqual(['a:1', 'b:2', 'a:3,5', 'b:4']);
    for (const release of gates.splice(0)) release();
    expect(await Promise.all(laters)).toEqual(['a3', 'b4', 'a5']);
    await settled();
    expect(commit.activeKeys).toBe(0);
  });
});

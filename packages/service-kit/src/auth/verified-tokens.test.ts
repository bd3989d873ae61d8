import { describe, expect, it } from 'vitest';
import { VerifiedTokens } from './verified-tokens.js';

describe('VerifiedTokens', () => {
  it('answers for a token until its exp, never after, and stays bounded', () => {
    const cache = new VerifiedTokens<string>(2);
    const now = Math.floor(Date.now() / 1000);
    cache.set('live', 'order', now + 60);
    cache.set('expired', 'order', now - 1);
    expect(cache.get('live')).toBe('order');
    expect(cache.get('expired')).toBeUndefined();
    expect(cache.get('never-seen')).toBeUndefined();
    cache.set('a', 'x', now + 60);
    cache.set('b', 'y', now + 60); // full: starts over
    expect(cache.get('live')).toBeUndefined();
    expect(cache.get('b')).toBe('y');
  });
});

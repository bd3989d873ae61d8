import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RedisProcess, startRedisServer } from '@storefront/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../src/connections/create-redis.js';
import { FieldCipher, FieldOpenError } from '../src/field-encryption/field-cipher.js';
import { FieldKeyError, newFieldKey, parseFieldKeys } from '../src/field-encryption/field-keys.js';

// A contact and a message as a notification job would carry them: what must never reach Redis in clear.
const CONTACT = 'ada.lovelace+orders@example.org';
const MESSAGE = 'Ada, your order of 3 × Ethiopia Guji is reserved; pay by 18:00 to confirm it.';

/** Every value on the server, read back by type (strings, hashes, lists, sets, sorted sets, streams), as one text. */
const everyValue = async (redis: RedisClient): Promise<string> => {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'COUNT', '500');
    cursor = next;
    for (const key of found) {
      const type = await redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push(String(await redis.get(key)));
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(...(await redis.smembers(key)));
      else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
};

/** The server's append-only files as bytes read as text: every write it was sent, as it keeps them on disk. */
const aofText = async (server: RedisProcess): Promise<string> => {
  const dir = join(server.dir, 'appendonlydir');
  const files = await readdir(dir);
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'latin1')))).join('\n');
};

describe('field encryption (AES-256-GCM, key id in the envelope)', () => {
  let server: RedisProcess;
  let redis: RedisClient;
  beforeAll(async () => {
    // AOF always-fsync, so the disk holds every write once it is acknowledged.
    server = await startRedisServer({ config: ['appendonly yes', 'appendfsync always'] });
    redis = createRedis({ url: server.adminUrl });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('keeps the plaintext out of Redis: no key, no value of any type, no byte of the AOF holds it', async () => {
    const cipher = new FieldCipher(newFieldKey('k1'));
    const context = 'notification:job-1';
    const contact = cipher.seal(CONTACT, context);
    const message = cipher.seal(MESSAGE, context);
    // The shapes sealed fields travel in: a job hash (BullMQ's `data` is JSON in a hash field), a stream entry, a list, a cache string.
    await redis.hset('t:job:1', 'data', JSON.stringify({ customerId: 'ada', contact, message }), 'name', 'notify');
    await redis.xadd('t:events', '*', 'contact', contact, 'message', message);
    await redis.lpush('t:wait', JSON.stringify({ contact }));
    await redis.set('t:cache', message);
    const everything = await everyValue(redis);
    expect(everything).toContain(contact); // the scan did read the values
    const disk = await aofText(server);
    expect(disk).toContain(message);
    for (const secret of [CONTACT, MESSAGE, 'ada.lovelace', 'Ethiopia Guji']) {
      expect(everything).not.toContain(secret);
      expect(disk).not.toContain(secret);
    }
    // …and what was written opens back to the plaintext.
    const stored = JSON.parse((await redis.hget('t:job:1', 'data'))!) as { contact: string; message: string };
    expect(cipher.open(stored.contact, context)).toBe(CONTACT);
    expect(cipher.open(stored.message, context)).toBe(MESSAGE);
  });

  it('names the key in clear and seals the same text differently every time (a fresh IV per value)', () => {
    const cipher = new FieldCipher(`k7:${Buffer.alloc(32, 7).toString('base64')}`);
    const a = cipher.seal(CONTACT, 'c');
    const b = cipher.seal(CONTACT, 'c');
    expect(a).toMatch(/^fe1\.k7\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(FieldCipher.keyIdOf(a)).toBe('k7');
    expect(a).not.toBe(b);
    expect(cipher.open(a, 'c')).toBe(CONTACT);
    expect(cipher.open(b, 'c')).toBe(CONTACT);
  });

  it('rotates: a new first key seals, the old one still opens, reseal moves values over, and dropping the old key refuses what was not moved', async () => {
    const old = newFieldKey('2026-06');
    const next = newFieldKey('2026-12');
    const registry = new Registry();
    const before = new FieldCipher(old);
    const during = new FieldCipher(`${next},${old}`, { registry });
    const after = new FieldCipher(next);

    const sealedBefore = before.seal(CONTACT, 'job-a');
    const leftBehind = before.seal(MESSAGE, 'job-b');
    await redis.set('t:rotate:a', sealedBefore);
    // During the rotation every old value still opens, and new values carry the new key id.
    expect(during.open((await redis.get('t:rotate:a'))!, 'job-a')).toBe(CONTACT);
    expect(FieldCipher.keyIdOf(during.seal(CONTACT, 'job-c'))).toBe('2026-12');
    // Resealing rewrites a stored value under the current key; one already current is left as it is.
    const moved = during.reseal((await redis.get('t:rotate:a'))!, 'job-a');
    expect(FieldCipher.keyIdOf(moved)).toBe('2026-12');
    expect(during.reseal(moved, 'job-a')).toBe(moved);
    await redis.set('t:rotate:a', moved);
    // Once the old key is gone: the moved value opens, the one nobody resealed is refused by name (its key id), not garbled.
    expect(after.open((await redis.get('t:rotate:a'))!, 'job-a')).toBe(CONTACT);
    expect(() => after.open(leftBehind, 'job-b')).toThrow(
      expect.objectContaining({ reason: 'unknown_key', keyId: '2026-06', message: expect.stringContaining('2026-06') }),
    );
    // The metric shows which key ids are still being opened: the signal that the old key can go.
    const text = await registry.metrics();
    expect(text).toMatch(/field_encryption_operations_total\{op="open",key_id="2026-06",outcome="ok"\} 2/);
    expect(text).toMatch(/field_encryption_operations_total\{op="seal",key_id="2026-12",outcome="ok"\} 2/);
  });

  it('refuses a value altered in Redis, moved to another context, or not an envelope at all', async () => {
    const cipher = new FieldCipher(newFieldKey('k1'));
    const sealed = cipher.seal(CONTACT, 'notification:alice');
    await redis.set('t:tamper', sealed);
    // Flip one bit of the stored ciphertext, as a writer with access to Redis could.
    const stored = (await redis.get('t:tamper'))!;
    const data = Buffer.from(stored.split('.')[3]!, 'base64url');
    data[0] = data[0]! ^ 1;
    const altered = [...stored.split('.').slice(0, 3), data.toString('base64url')].join('.');
    expect(() => cipher.open(altered, 'notification:alice')).toThrow(expect.objectContaining({ reason: 'rejected' }));
    // The same bytes copied into another customer's job do not open there.
    expect(() => cipher.open(stored, 'notification:mallory')).toThrow(expect.objectContaining({ reason: 'rejected' }));
    // A key id swapped in the envelope is caught too: the id is authenticated, even where both ids hold the same key.
    const key = Buffer.alloc(32, 3);
    const twins = new FieldCipher([
      { id: 'k1', key },
      { id: 'k2', key },
    ]);
    const twinSealed = twins.seal(CONTACT, 'notification:alice');
    expect(() => twins.open(twinSealed.replace('.k1.', '.k2.'), 'notification:alice')).toThrow(FieldOpenError);
    expect(twins.open(twinSealed, 'notification:alice')).toBe(CONTACT);
    expect(() => cipher.open(CONTACT, 'notification:alice')).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(cipher.open(stored, 'notification:alice')).toBe(CONTACT);
  });

  it('reads FIELD_ENCRYPTION_KEYS strictly and never echoes key material in its errors', () => {
    const good = newFieldKey('a');
    expect(parseFieldKeys(` ${good} , ${newFieldKey('b')} `).map((k) => k.id)).toEqual(['a', 'b']);
    const short = `a:${Buffer.alloc(16, 1).toString('base64')}`;
    const cases: [string, RegExp][] = [
      ['', /at least one key/],
      [short, /entry 1 \(a\): the key must be 32 bytes/],
      [`${good},${good.replace(/^a/, 'b')},${good}`, /entry 3: key id a is listed twice/],
      [`bad id:${good.slice(2)}`, /entry 1: the key id must match/],
      [good.slice(2), /entry 1: the key id must match/],
    ];
    for (const [text, rule] of cases) {
      let error: unknown;
      try {
        parseFieldKeys(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FieldKeyError);
      expect((error as Error).message).toMatch(rule);
      expect((error as Error).message).not.toContain(good.slice(2, 20));
      expect((error as Error).message).not.toContain(short.slice(2, 20));
    }
  });
});

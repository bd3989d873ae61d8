import { Buffer } from 'node:buffer';

/** One AES-256 key and the id its envelopes name. */
export interface FieldKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** A key id: what an envelope names in clear so a reader knows which key opens it. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Why a key list was refused (the message never contains key material). */
export class FieldKeyError extends Error {
  override name = 'FieldKeyError';
}

/**
 * Parse a key list as services take it from `FIELD_ENCRYPTION_KEYS`: comma-separated
 * `<id>:<base64 of 32 random bytes>` pairs, the first one current (it seals), every one
 * able to open. Rotation is a change of this list (docs/patterns/field-encryption.md).
 * Throws {@link FieldKeyError} naming the entry and the rule; the key itself is never echoed.
 */
export const parseFieldKeys = (text: string): FieldKey[] => {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) throw new FieldKeyError('must list at least one key as <id>:<base64 32 bytes>');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    if (!KEY_ID.test(id)) throw new FieldKeyError(`entry ${i + 1}: the key id must match ${KEY_ID.source}, then ':'`);
    if (seen.has(id)) throw new FieldKeyError(`entry ${i + 1}: key id ${id} is listed twice`);
    seen.add(id);
    const material = entry.slice(colon + 1);
    const key = Buffer.from(material, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== material.replace(/=+$/, '')) {
      throw new FieldKeyError(`entry ${i + 1} (${id}): the key must be 32 bytes in base64 (openssl rand -base64 32)`);
    }
    return { id, key };
  });
};

/** A fresh key list entry, `<id>:<base64>` (for tests, the demo and generated `.env` files). */
export const newFieldKey = (id: string): string => {
  if (!KEY_ID.test(id)) throw new FieldKeyError(`the key id must match ${KEY_ID.source}`);
  return `${id}:${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
};

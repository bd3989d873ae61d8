import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { fieldEncryptionMetrics } from './field-encryption-metrics.js';
import { type FieldKey, FieldKeyError, parseFieldKeys } from './field-keys.js';

/** Envelope version tag: `fe1.<key id>.<iv>.<ciphertext and tag>`, the last two base64url. */
const VERSION = 'fe1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Why a value could not be opened: not an envelope, a key this process does not hold, or altered / moved to another context. */
export type FieldOpenFailure = 'malformed' | 'unknown_key' | 'rejected';

/** A sealed value that could not be opened. The message names the key id and the reason, never the value. */
export class FieldOpenError extends Error {
  override name = 'FieldOpenError';
  constructor(
    readonly reason: FieldOpenFailure,
    readonly keyId?: string,
  ) {
    super(
      reason === 'malformed'
        ? 'not a sealed field (expected fe1.<key id>.<iv>.<data>)'
        : reason === 'unknown_key'
          ? `sealed under key ${keyId}, which this process does not hold (FIELD_ENCRYPTION_KEYS)`
          : `sealed under key ${keyId}, but altered or sealed for another context (authentication failed)`,
    );
  }
}

/** Options for {@link FieldCipher}. */
export interface FieldCipherOptions {
  /** Where `field_encryption_operations_total` goes. */
  registry?: Registry;
}

/**
 * Client-side encryption of single fields before they reach Redis (job data, cached
 * values): AES-256-GCM from node:crypto, a fresh 96-bit IV per value, and the key id in
 * clear in the envelope so keys rotate — the first key seals, every listed key opens.
 *
 * Each value is sealed for a `context` (bound as GCM's additional data): the same
 * ciphertext opened for any other context fails authentication, so a sealed field cannot
 * be copied into another customer's job. Redis, its replicas, its AOF/RDB files and
 * anyone with a read-only ACL see the envelope only.
 */
export class FieldCipher {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #current: FieldKey;
  readonly #metrics;

  /** `keys`: the parsed list or `FIELD_ENCRYPTION_KEYS` text (see {@link parseFieldKeys}); the first seals. */
  constructor(keys: readonly FieldKey[] | string, options: FieldCipherOptions = {}) {
    const list = typeof keys === 'string' ? parseFieldKeys(keys) : keys;
    const first = list[0];
    if (!first) throw new FieldKeyError('must list at least one key');
    for (const k of list) {
      if (k.key.length !== 32) throw new FieldKeyError(`key ${k.id} must be 32 bytes`);
    }
    this.#current = first;
    this.#keys = new Map(list.map((k) => [k.id, k.key]));
    this.#metrics = fieldEncryptionMetrics(options.registry);
  }

  /** The id new envelopes carry. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Whether `value` looks like an envelope (a string in this format; not proof it opens). */
  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(`${VERSION}.`) && value.split('.').length === 4;
  }

  /** The key id an envelope was sealed under, or `undefined` for anything else. */
  static keyIdOf(value: unknown): string | undefined {
    return FieldCipher.isSealed(value) ? value.split('.')[1] : undefined;
  }

  /** Encrypt `plaintext` for `context` under the current key. */
  seal(plaintext: string, context: string): string {
    const { id, key } = this.#current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(id, context));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    this.#metrics?.operations.inc({ op: 'seal', key_id: id, outcome: 'ok' });
    return `${VERSION}.${id}.${iv.toString('base64url')}.${data.toString('base64url')}`;
  }

  /** Decrypt an envelope sealed for `context`; throws {@link FieldOpenError} if it cannot. */
  open(envelope: string, context: string): string {
    const parts = envelope.split('.');
    const [version, id = '', ivText = '', dataText = ''] = parts;
    const iv = Buffer.from(ivText, 'base64url');
    const data = Buffer.from(dataText, 'base64url');
    if (parts.length !== 4 || version !== VERSION || iv.length !== IV_BYTES || data.length < TAG_BYTES) {
      this.#metrics?.operations.inc({ op: 'open', key_id: 'none', outcome: 'malformed' });
      throw new FieldOpenError('malformed');
    }
    const key = this.#keys.get(id);
    if (!key) {
      this.#metrics?.operations.inc({ op: 'open', key_id: id, outcome: 'unknown_key' });
      throw new FieldOpenError('unknown_key', id);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(id, context));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      const text = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      this.#metrics?.operations.inc({ op: 'open', key_id: id, outcome: 'ok' });
      return text;
    } catch {
      this.#metrics?.operations.inc({ op: 'open', key_id: id, outcome: 'rejected' });
      throw new FieldOpenError('rejected', id);
    }
  }

  /** The envelope under the current key: the same string if it already is, else opened and sealed again (rotation). */
  reseal(envelope: string, context: string): string {
    if (FieldCipher.keyIdOf(envelope) === this.#current.id) return envelope;
    return this.seal(this.open(envelope, context), context);
  }
}

/** GCM's additional data: the version, the key id (so it cannot be swapped) and the caller's context. */
const additionalData = (keyId: string, context: string) => Buffer.from(`${VERSION}.${keyId}.${context}`, 'utf8');

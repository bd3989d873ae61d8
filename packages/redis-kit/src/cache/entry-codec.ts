import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import type { CacheEntry } from './entry.js';

/** Options for compressing large values (`TwoTierCache`'s `compression`). */
export interface CompressionOptions {
  /** Values whose JSON is at least this long are compressed. Default 1 024 bytes. */
  minBytes?: number;
  /** Brotli quality 0–11 (higher: smaller, slower). Default 4, measured in `pnpm bench` (cache compression). */
  quality?: number;
}

/** How a stored entry looks in Redis when its value is compressed: `ver` stays readable for the Lua version check. */
interface Compressed {
  ver: number;
  fresh: number;
  tomb?: true;
  /** The codec: `br` (Brotli). */
  z: 'br';
  /** The value's JSON, compressed, base64. */
  d: string;
}

/** What {@link encodeEntry} did, for the metrics. */
export interface Encoded {
  text: string;
  /** The value's JSON length, when it was at least `minBytes` (compression was tried). */
  rawBytes?: number;
}

/**
 * The text stored in Redis for an entry: plain JSON, or — when the value's JSON is at least
 * `minBytes` and Brotli (Node's zlib, no dependency) makes it smaller even as base64 — the
 * envelope `{ver, fresh, z: "br", d}`. The version stays a plain field, so the versioned-set
 * script compares versions without decompressing.
 */
export const encodeEntry = <T>(entry: CacheEntry<T>, compression?: CompressionOptions): Encoded => {
  const plain = JSON.stringify(entry);
  if (!compression || entry.v === null) return { text: plain };
  const value = JSON.stringify(entry.v);
  const minBytes = compression.minBytes ?? 1024;
  if (Buffer.byteLength(value) < minBytes) return { text: plain };
  const packed = brotliCompressSync(value, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: compression.quality ?? 4,
      [constants.BROTLI_PARAM_SIZE_HINT]: value.length,
    },
  }).toString('base64');
  const rawBytes = Buffer.byteLength(value);
  if (packed.length >= rawBytes) return { text: plain, rawBytes };
  const stored: Compressed = { ver: entry.ver, fresh: entry.fresh, ...(entry.tomb ? { tomb: true } : {}), z: 'br', d: packed };
  return { text: JSON.stringify(stored), rawBytes };
};

/**
 * An entry from its stored text, compressed or not — whatever this instance's own setting:
 * entries written before compression was turned on (or by an instance with it off) stay
 * readable, and so do compressed ones after it is turned off. An unknown codec throws.
 */
export const decodeEntry = <T>(text: string): CacheEntry<T> => {
  const parsed = JSON.parse(text) as CacheEntry<T> | Compressed;
  if (!('z' in parsed)) return parsed;
  if (parsed.z !== 'br') throw new Error(`cache entry compressed with an unknown codec: ${String(parsed.z)}`);
  const v = JSON.parse(brotliDecompressSync(Buffer.from(parsed.d, 'base64')).toString('utf8')) as T;
  return { v, ver: parsed.ver, fresh: parsed.fresh, ...(parsed.tomb ? { tomb: true as const } : {}) };
};

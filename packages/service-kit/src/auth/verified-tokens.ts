/**
 * What a verifier already proved, by token, until the token expires. A signature check
 * costs ~0.35 ms of CPU (EdDSA through WebCrypto on Node 20) and the same token arrives
 * again and again (a service token for 40 s, a customer's for their session): verifying
 * it once is enough, because nothing about a given token can change before its `exp` —
 * Storefront has no revocation (tokens are short-lived instead; docs/operations.md).
 * Bounded: when full it starts over rather than grow.
 */
export class VerifiedTokens<T> {
  readonly #entries = new Map<string, { value: T; expiresAtMs: number }>();

  constructor(private readonly max = 10_000) {}

  /** The value proved for `token`, if it was verified and has not expired since. */
  get(token: string): T | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= Date.now()) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  /** Remember `value` for `token` until `expSeconds` (the token's `exp`). */
  set(token: string, value: T, expSeconds: number): void {
    if (this.#entries.size >= this.max) this.#entries.clear();
    this.#entries.set(token, { value, expiresAtMs: expSeconds * 1000 });
  }
}

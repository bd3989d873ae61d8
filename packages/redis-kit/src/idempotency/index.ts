export { fingerprint } from './fingerprint.js';
export {
  IdempotencyInFlightError,
  IdempotencyMismatchError,
  type IdempotencyOptions,
  IdempotencyStore,
  type StoredResponse,
} from './idempotency-store.js';

import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of {@link FieldCipher}, created once per registry (see `perRegistry`). */
export const fieldEncryptionMetrics = perRegistry((registers) => ({
  operations: new Counter({
    name: 'field_encryption_operations_total',
    help: 'Fields sealed and opened, by key id and outcome (ok, unknown_key, rejected); opens under a retired key id show what still needs resealing',
    labelNames: ['op', 'key_id', 'outcome'] as const,
    registers,
  }),
}));

export { FieldCipher, type FieldCipherOptions, FieldOpenError, type FieldOpenFailure } from './field-cipher.js';
export { type FieldKey, FieldKeyError, newFieldKey, parseFieldKeys } from './field-keys.js';

export * from './errors.js';
export * from './events.js';
export * from './ids.js';
export * from './keys.js';
export * from './order.js';
export * from './product.js';
export * from './service-names.js';

export * from './connections/index.js';

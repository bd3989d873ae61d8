export { type BatchResult, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export { appendToOutbox, outboxTableSql } from './outbox-table.js';

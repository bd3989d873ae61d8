export { type BatchResult, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export { appendToOutbox, outboxTableSql, outboxTraceContextSql } from './outbox-table.js';

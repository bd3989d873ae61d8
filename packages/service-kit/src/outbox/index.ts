export { type BatchResult, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export { appendToOutbox, outboxRow, outboxTableSql, outboxTraceContextSql } from './outbox-table.js';

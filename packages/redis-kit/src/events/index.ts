export { EventBus, type EventBusOptions } from './event-bus.js';
export type { EventSchema, TypedEvent } from './event-schema.js';
export { type ConsumeOptions, EventStream, type EventStreamOptions, type StreamConsumer } from './event-stream.js';

export { EventBus, type EventBusOptions } from './event-bus.js';
export { type ConsumeOptions, EventStream, type EventStreamOptions, type StreamConsumer } from './event-stream.js';

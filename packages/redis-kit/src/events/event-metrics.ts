import { Counter } from 'prom-client';
import { perRegistry } from '../metrics/per-registry.js';

/** The metrics of the event bus and stream, created once per registry (see `perRegistry`). */
export const eventMetrics = perRegistry((registers) => ({
  eventsPublished: new Counter({
    name: 'events_published_total',
    help: 'Events published on the bus',
    labelNames: ['type'] as const,
    registers,
  }),
  eventsReceived: new Counter({
    name: 'events_received_total',
    help: 'Valid events received',
    labelNames: ['type'] as const,
    registers,
  }),
  eventsInvalid: new Counter({
    name: 'events_invalid_total',
    help: 'Messages dropped because they failed schema validation',
    labelNames: ['channel'] as const,
    registers,
  }),
  eventsDeadLettered: new Counter({
    name: 'events_dead_lettered_total',
    help: 'Stream messages moved to the dead-letter stream after too many deliveries',
    labelNames: ['stream'] as const,
    registers,
  }),
}));

/**
 * What the event patterns need of a schema: `parse` returns the typed value or throws.
 * A zod schema fits; redis-kit does not depend on zod or on the application's events.
 */
export interface EventSchema<T> {
  parse(value: unknown): T;
}

/** The one field the event patterns read: `type`, which picks the schema and the channel. */
export interface TypedEvent {
  type: string;
}

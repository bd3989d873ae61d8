/** What an instance says about itself in the registry. */
export interface InstanceRecord {
  service: string;
  instanceId: string;
  host: string;
  port: number;
  /** ISO time the instance started. */
  startedAt: string;
  /** Free-form extras (version, zone, metrics path). */
  meta?: Record<string, string>;
}

/** A registry change announced on pub/sub. */
export interface RegistryChange {
  type: 'join' | 'leave';
  service: string;
  instanceId: string;
}

/** A discovered instance and when its registration expires (local clock, ms). */
export interface LiveInstance extends InstanceRecord {
  expiresAt: number;
}

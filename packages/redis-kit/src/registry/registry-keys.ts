/**
 * The registry's Redis names, all under one prefix the caller picks (default `registry`):
 * - `<prefix>:{<service>}:instances` sorted set of instance ids scored by expiry (server ms)
 * - `<prefix>:{<service>}:instance:<id>` one instance's record (JSON, PX TTL)
 * - `<prefix>:changes` pub/sub channel announcing joins and leaves
 *
 * Index and records of one service share a hash tag, so one script or pipeline touches a
 * single Cluster slot.
 */
export const registryKeys = (prefix = 'registry') => ({
  index: (service: string) => `${prefix}:{${service}}:instances`,
  instance: (service: string, instanceId: string) => `${prefix}:{${service}}:instance:${instanceId}`,
  changes: `${prefix}:changes`,
});
export type RegistryKeys = ReturnType<typeof registryKeys>;

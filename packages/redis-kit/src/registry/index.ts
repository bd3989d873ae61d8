export { Discovery, type DiscoveryOptions, NoInstanceError } from './discovery.js';
export type { InstanceRecord, LiveInstance, RegistryChange } from './instance.js';
export { type RegistryKeys, registryKeys } from './registry-keys.js';
export { InstanceIdTakenError, type RegistrationOptions, registrar, ServiceRegistration } from './service-registration.js';

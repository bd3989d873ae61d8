export { Discovery, type DiscoveryOptions, NoInstanceError } from './discovery.js';
export type { InstanceRecord, LiveInstance, RegistryChange } from './instance.js';
export { InstanceIdTakenError, type RegistrationOptions, ServiceRegistration } from './service-registration.js';

/** The services that make up Storefront. Registry entries, ACL users and metrics use these names. */
export const SERVICE_NAMES = ['catalog', 'order', 'notifier'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

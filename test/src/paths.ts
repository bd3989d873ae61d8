import { fileURLToPath } from 'node:url';

/** The built entry point of a service in this repository. */
export const serviceEntry = (service: 'catalog' | 'order' | 'notifier' | 'dashboard'): string =>
  fileURLToPath(new URL(`../../services/${service}/dist/main.js`, import.meta.url));

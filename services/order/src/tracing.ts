import { startTracing } from '@storefront/service-defaults/tracing';

// Imported first by main.ts: the instrumentations patch http and pg as they load.
startTracing('order');

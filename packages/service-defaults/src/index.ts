export { type BootOptions, bootService, type Composed } from './boot-service.js';
export { NotificationSealing } from './notification-sealing.js';
export { type CustomerLimits, clientAddress, rateLimit, spendForCustomer, spendOrRefuse } from './rate-limits.js';
export { redisSettings, type ServiceConfig, serviceEnv } from './service-env.js';
export { ServiceHost, type ServiceHostOptions } from './service-host.js';
export { checkTimeouts, DATABASE_BUDGET_MS, placeWorstCaseMs, timeoutEnv } from './timeouts.js';
export { WorkerWatchdog, type WorkerWatchdogOptions } from './worker-watchdog.js';

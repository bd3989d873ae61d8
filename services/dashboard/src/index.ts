export { compose, type DashboardOptions } from './compose.js';
export { type DashboardConfig, loadDashboardConfig } from './config.js';
export type { DemoControl } from './http/api.js';

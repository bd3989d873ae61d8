export { createApp, type DashboardDeps } from './app.js';
export { DashboardState, type Snapshot } from './dashboard-state.js';
export type { DemoControl } from './routes/api.js';

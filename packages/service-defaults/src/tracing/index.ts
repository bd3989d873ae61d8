export { activeTracing, startTracing, type Tracing } from './start-tracing.js';
export { type TracingConfig, tracingEnv } from './tracing-env.js';

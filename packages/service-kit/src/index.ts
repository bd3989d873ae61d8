export * from './auth/index.js';
export { type BreakerOptions, createBreaker } from './breaker.js';
export { type ClientSpan, startClientSpan } from './client-span.js';
export { baseEnv, ConfigError, envFields, loadConfig, PLACEHOLDER_MARKER } from './config.js';
export {
  createPool,
  isDatabaseUnavailable,
  type Migration,
  migrate,
  type PoolOptions,
  type PreparedStatement,
  prepared,
  withTransaction,
} from './database.js';
export {
  AppError,
  type AppErrorOptions,
  ConflictError,
  DependencyUnavailableError,
  ForbiddenError,
  NotFoundError,
  toAppError,
  toFieldIssues,
  UnauthorizedError,
  type UnavailableClassifier,
  ValidationError,
} from './errors.js';
export { GroupCommit, type GroupCommitOptions, KeyedGroupCommit } from './group-commit.js';
export { Health, type HealthCheck } from './health.js';
export { createServiceApp, type ServiceAppOptions } from './http-app.js';
export { createLogger, type LoggerOptions, redactUrl } from './logger.js';
export { createMetrics, type ServiceMetrics } from './metrics.js';
export * from './outbox/index.js';
export { perRegistry } from './per-registry.js';
export { toProblem } from './problem.js';
export { type Listening, type ListenOptions, listen } from './server.js';
export { exitOnSignals, SHUTDOWN_PHASES, Shutdown, type ShutdownPhase } from './shutdown.js';
export { Sweeper, type SweeperOptions } from './sweeper.js';
export { requestSpan } from './tracing.js';
export { parseOrThrow } from './validate.js';

export { type RateLimitDecision, RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

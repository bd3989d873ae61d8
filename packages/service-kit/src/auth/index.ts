export { type AuthGuardOptions, type AuthGuards, bearerToken, callerOf, createAuthGuards, principalOf } from './guards.js';
export { IdentityVerifier, type IdentityVerifierOptions, type Principal } from './identity-verifier.js';
export { ServiceTokenSigner, ServiceTokenVerifier } from './service-tokens.js';

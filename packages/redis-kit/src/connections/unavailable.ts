/** Messages ioredis rejects a command with when it could not reach a usable server. */
const CLIENT_MESSAGES = [
  'Command timed out', // commandTimeout: a frozen or overloaded server
  'Connection is closed.', // the connection ended (and was not, or not yet, re-established)
  "Stream isn't writeable and enableOfflineQueue options is false", // producer while reconnecting
  'None of startup nodes is available', // Cluster
  'Failed to refresh slots cache', // Cluster
  'No master node is available', // Cluster pipeline during a failover
  "Cluster isn't ready and enableOfflineQueue options is false", // Cluster producer while the slots are refreshed
  'Too many Cluster redirections', // MOVED/TRYAGAIN/connection errors until the redirect budget ran out (a failover)
];
/** Replies with which a server says "not now": loading data, demoted in a failover, no quorum, … */
const SERVER_PREFIXES = ['LOADING', 'READONLY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'NOREPLICAS', 'BUSY'];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether `error` means Redis cannot answer right now (down, frozen, restarting, failing
 * over) rather than that the command itself was wrong. Services answer such errors with
 * 503 and `Retry-After` instead of 500.
 */
export const isRedisUnavailable = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false;
  if (['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'NotReplicatedError'].includes(error.name)) return true;
  if (NETWORK_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return true;
  if (CLIENT_MESSAGES.some((m) => error.message.startsWith(m))) return true;
  return SERVER_PREFIXES.some((p) => error.message.startsWith(`${p} `) || error.message === p);
};

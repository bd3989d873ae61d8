/** A `host:port` pair. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * TLS material beyond the system trust store (PEM text): the CA that signed the servers'
 * certificates, and a client certificate and key when the servers ask for one
 * (`tls-auth-clients yes`). Used only with a `rediss://` URL.
 */
export interface RedisTls {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/**
 * One connection config for every topology. Exactly one of these decides the mode:
 * `clusterNodes` → Cluster; else `sentinels` → Sentinel; else `url` → standalone.
 * Credentials and TLS come from `url` in every mode (`rediss://user:pass@host:port/db`),
 * so ACL users work the same everywhere.
 */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS). In Sentinel/Cluster mode only its credentials, db and scheme are used. */
  url: string;
  /** Sentinel seeds. */
  sentinels?: HostPort[] | undefined;
  /** Sentinel master name. Default `storefront`. */
  sentinelName?: string | undefined;
  /** Cluster seed nodes. */
  clusterNodes?: HostPort[] | undefined;
  /** Certificates for a `rediss://` URL (data nodes, and on Sentinel the Sentinels too). */
  tls?: RedisTls | undefined;
}

/** Parse `host:port,host:port` (or an array of such strings) into {@link HostPort}s. */
export const parseHostList = (list: string | readonly string[]): HostPort[] =>
  (typeof list === 'string' ? list.split(',') : list)
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const port = Number(entry.slice(at + 1));
      if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
        throw new Error(`"${entry}" is not host:port`);
      }
      return { host: entry.slice(0, at), port };
    });

/** The credentials, db and TLS flag a URL carries. */
export const urlAuth = (url: string) => {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('Redis URL must start with redis:// or rediss://');
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:',
  };
};

/** Which topology a config selects. */
export const redisMode = (config: RedisConfig): 'standalone' | 'sentinel' | 'cluster' =>
  config.clusterNodes?.length ? 'cluster' : config.sentinels?.length ? 'sentinel' : 'standalone';

/** Settings as they come from the environment (lists as `host:port` strings). */
export interface RedisSettings {
  url: string;
  sentinels?: readonly string[] | undefined;
  sentinelName?: string | undefined;
  clusterNodes?: readonly string[] | undefined;
  tls?: RedisTls | undefined;
}

/** Build a {@link RedisConfig} from environment-shaped settings. */
export const toRedisConfig = ({ url, sentinels, sentinelName, clusterNodes, tls }: RedisSettings): RedisConfig => ({
  url,
  sentinels: sentinels?.length ? parseHostList(sentinels) : undefined,
  sentinelName,
  clusterNodes: clusterNodes?.length ? parseHostList(clusterNodes) : undefined,
  tls,
});

import { describe, expect, it } from 'vitest';
import { parseHostList, redisMode, toRedisConfig, urlAuth } from '../src/connections/redis-config.js';

describe('redis config', () => {
  it('parses host:port lists, including IPv6 hosts', () => {
    expect(parseHostList('a:1, b:2')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(parseHostList(['::1:26379'])).toEqual([{ host: '::1', port: 26379 }]);
  });

  it('rejects entries that are not host:port', () => {
    expect(() => parseHostList('redis-1')).toThrow('"redis-1" is not host:port');
    expect(() => parseHostList('h:99999')).toThrow('"h:99999" is not host:port');
  });

  it('reads ACL credentials, db and TLS from the URL', () => {
    expect(urlAuth('rediss://catalog:p%40ss@cache:6380/2')).toEqual({
      host: 'cache',
      port: 6380,
      username: 'catalog',
      password: 'p@ss',
      db: 2,
      tls: true,
    });
    expect(() => urlAuth('http://x')).toThrow(/redis:\/\//);
  });

  it('picks Cluster over Sentinel over standalone', () => {
    const url = 'redis://127.0.0.1:6379';
    expect(redisMode(toRedisConfig({ url }))).toBe('standalone');
    expect(redisMode(toRedisConfig({ url, sentinels: ['s:26379'] }))).toBe('sentinel');
    expect(redisMode(toRedisConfig({ url, sentinels: ['s:26379'], clusterNodes: ['c:7000'] }))).toBe('cluster');
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseEnv, ConfigError, envFields, loadConfig } from './config.js';

describe('loadConfig', () => {
  const schema = baseEnv.extend({ ADMIN_TOKEN: z.string().min(16), REDIS_URL: envFields.redisUrl.optional() });

  it('returns a frozen config with defaults filled in', () => {
    const config = loadConfig(schema, { PORT: '3101', ADMIN_TOKEN: 'x'.repeat(16) });
    expect(config.PORT).toBe(3101);
    expect(config.LOG_LEVEL).toBe('info');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable on one line without echoing its value', () => {
    const run = () => loadConfig(schema, { PORT: 'eighty', REDIS_URL: 'http://secret-host', ADMIN_TOKEN: 'short-secret' });
    expect(run).toThrow(ConfigError);
    try {
      run();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/PORT/);
      expect(message).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
      expect(message).toMatch(/ADMIN_TOKEN/);
      expect(message).not.toContain('short-secret');
      expect(message).not.toContain('secret-host');
      expect(message).not.toContain('\n');
    }
  });

  it('parses durations with units into milliseconds', () => {
    const schema = baseEnv.extend({ TIMEOUT: envFields.duration });
    expect(loadConfig(schema, { PORT: '1', TIMEOUT: '15m' }).TIMEOUT).toBe(900_000);
    expect(loadConfig(schema, { PORT: '1', TIMEOUT: '250' }).TIMEOUT).toBe(250);
    expect(() => loadConfig(schema, { PORT: '1', TIMEOUT: 'soon' })).toThrow(/TIMEOUT must be a duration/);
  });

  it('splits comma lists (Sentinel and Cluster seeds)', () => {
    const schema = baseEnv.extend({ REDIS_SENTINELS: envFields.commaList.optional() });
    const config = loadConfig(schema, { PORT: '1', REDIS_SENTINELS: '127.0.0.1:26379, 127.0.0.1:26380' });
    expect(config.REDIS_SENTINELS).toEqual(['127.0.0.1:26379', '127.0.0.1:26380']);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering DESIGN.md draws, checked on every workspace manifest:
 * services → service-kit → contracts, services → redis-kit → contracts;
 * testing only in devDependencies; a service never depends on another service.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = (dir: string) =>
  JSON.parse(readFileSync(`${root}${dir}/package.json`, 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
const workspaces = ['packages', 'services'].flatMap((group) => readdirSync(`${root}${group}`).map((d) => `${group}/${d}`));
const deps = (dir: string) => Object.keys(manifest(dir).dependencies ?? {});
const internal = (dir: string) => deps(dir).filter((d) => d.startsWith('@storefront/'));

describe('architecture', () => {
  it('contracts depends on nothing but zod', () => {
    expect(deps('packages/contracts')).toEqual(['zod']);
  });

  it('redis-kit knows no service, no service-kit and no HTTP framework', () => {
    const redisKit = 'packages/redis-kit';
    const forbidden = deps(redisKit).filter((d) => d.startsWith('@storefront/') && d !== '@storefront/contracts');
    expect(forbidden).toEqual([]);
    expect(deps(redisKit).filter((d) => ['express', 'supertest', 'pino-http', 'helmet'].includes(d))).toEqual([]);
  });

  it('service-kit depends on contracts only among internal packages', () => {
    expect(internal('packages/service-kit')).toEqual(['@storefront/contracts']);
  });

  it.each(workspaces.filter((w) => w.startsWith('services/')))('%s depends on no other service', (dir) => {
    expect(internal(dir).filter((d) => ['@storefront/catalog', '@storefront/order', '@storefront/notifier'].includes(d))).toEqual(
      [],
    );
  });

  // The demo runner is a tool, not a service or library: it starts processes with the harness.
  it.each(workspaces.filter((w) => w !== 'packages/demo'))('%s uses the testing package only as a dev dependency', (dir) => {
    expect(deps(dir)).not.toContain('@storefront/testing');
  });
});

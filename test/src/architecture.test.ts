import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering the design draws, checked on what the code imports (not only on manifests):
 *
 *   services/*  ──►  service-defaults  ──►  service-kit  ──►  contracts
 *                          └──────────────►  redis-kit (imports nothing internal)
 *   tools (demo, bench), test/  ──►  services' composition functions, packages/testing
 *   (and contracts' names — queue and key names — which the suites and tools check Redis with)
 *
 * Every workspace must be named in WORKSPACES, so a new one is placed on purpose.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

type Kind = 'library' | 'service' | 'tool' | 'suite' | 'harness';
/** Each workspace, its kind, and the internal packages its source may import (tests may add the harness). */
const WORKSPACES: Record<string, { kind: Kind; mayImport: string[] }> = {
  'packages/contracts': { kind: 'library', mayImport: [] },
  'packages/redis-kit': { kind: 'library', mayImport: [] },
  'packages/service-kit': { kind: 'library', mayImport: ['contracts'] },
  'packages/service-defaults': { kind: 'library', mayImport: ['contracts', 'redis-kit', 'service-kit'] },
  'packages/testing': { kind: 'harness', mayImport: [] },
  'services/catalog': { kind: 'service', mayImport: ['contracts', 'redis-kit', 'service-kit', 'service-defaults'] },
  'services/order': { kind: 'service', mayImport: ['contracts', 'redis-kit', 'service-kit', 'service-defaults'] },
  'services/notifier': { kind: 'service', mayImport: ['contracts', 'redis-kit', 'service-kit', 'service-defaults'] },
  'services/dashboard': { kind: 'service', mayImport: ['contracts', 'redis-kit', 'service-kit', 'service-defaults'] },
  demo: { kind: 'tool', mayImport: ['contracts', 'dashboard', 'redis-kit', 'service-defaults', 'service-kit', 'testing'] },
  bench: { kind: 'tool', mayImport: ['contracts', 'redis-kit', 'service-kit', 'testing'] },
  test: { kind: 'suite', mayImport: ['contracts', 'testing'] },
};
const SERVICES = Object.keys(WORKSPACES)
  .filter((w) => WORKSPACES[w]?.kind === 'service')
  .map((w) => w.split('/')[1]!);

const onDisk = () => {
  const packages = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  return packages
    .split('\n')
    .map((line) => /^\s*-\s*(\S+)/.exec(line)?.[1])
    .filter((g): g is string => g !== undefined)
    .flatMap((glob) =>
      glob.endsWith('/*')
        ? readdirSync(join(root, glob.slice(0, -2)))
            .map((d) => `${glob.slice(0, -2)}/${d}`)
            .filter((d) => statSync(join(root, d, 'package.json'), { throwIfNoEntry: false }))
        : [glob],
    );
};

/** Every TypeScript/JavaScript source file of a workspace (not dist, not node_modules). */
const sourceFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory())
      return ['node_modules', 'dist', '.turbo', 'public', 'results'].includes(entry.name) ? [] : sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });

const IMPORT =
  /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;
const importsOf = (file: string): string[] =>
  [...readFileSync(join(root, file), 'utf8').matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
const isTest = (file: string) => /\.test\.ts$/.test(file) || /\/test\//.test(file) || file.startsWith('test/');

describe('architecture', () => {
  it('names every workspace', () => {
    expect(onDisk().sort()).toEqual(Object.keys(WORKSPACES).sort());
  });

  it.each(Object.entries(WORKSPACES))('%s imports only what its layer may', (dir, { mayImport }) => {
    const offending: string[] = [];
    for (const file of sourceFiles(dir)) {
      const allowed = isTest(file) ? [...mayImport, 'testing'] : mayImport;
      for (const spec of importsOf(file)) {
        const internal = /^@storefront\/([a-z-]+)/.exec(spec)?.[1];
        if (internal && !allowed.includes(internal)) offending.push(`${file} imports ${spec}`);
        if (spec.startsWith('.')) {
          // A relative import must stay inside its own workspace.
          const target = relative(join(root, dir), resolve(dirname(join(root, file)), spec));
          if (target.startsWith('..')) offending.push(`${file} reaches outside its workspace: ${spec}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('keeps redis-kit’s source free of every Storefront package', () => {
    const internal = sourceFiles('packages/redis-kit/src').flatMap((f) =>
      importsOf(f)
        .filter((s) => s.startsWith('@storefront/'))
        .map((s) => `${f}: ${s}`),
    );
    expect(internal).toEqual([]);
  });

  it('lets no package import a service', () => {
    const offending = Object.keys(WORKSPACES)
      .filter((w) => w.startsWith('packages/'))
      .flatMap((w) =>
        sourceFiles(w).flatMap((f) => importsOf(f).filter((s) => SERVICES.some((svc) => s === `@storefront/${svc}`))),
      );
    expect(offending).toEqual([]);
  });

  it('lets tools reach a service only through its composition function and config', () => {
    for (const [dir, { kind }] of Object.entries(WORKSPACES).filter(([, w]) => w.kind === 'tool')) {
      for (const file of sourceFiles(dir)) {
        for (const spec of importsOf(file).filter((s) => SERVICES.some((svc) => s.startsWith(`@storefront/${svc}`)))) {
          expect(`${kind} ${file}: ${spec}`).toMatch(new RegExp(`@storefront/(${SERVICES.join('|')})$`));
        }
      }
    }
    // A service's package entry (what a tool can import) offers its composition, its config and types only.
    for (const svc of SERVICES) {
      const manifest = JSON.parse(readFileSync(join(root, 'services', svc, 'package.json'), 'utf8')) as { exports?: object };
      if (!manifest.exports) continue;
      const index = readFileSync(join(root, 'services', svc, 'src/index.ts'), 'utf8');
      const names = [...index.matchAll(/export\s*\{([^}]*)\}/g)].flatMap((m) =>
        m[1]!
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n && !n.startsWith('type ')),
      );
      expect(names.map((n) => n.split(' as ')[0])).toEqual(expect.arrayContaining(['compose']));
      expect(names.every((n) => n.startsWith('compose') || /^load\w+Config$/.test(n))).toBe(true);
    }
  });

  it('keeps the harness out of production dependencies (tools excepted: they start processes with it)', () => {
    for (const [dir, { kind }] of Object.entries(WORKSPACES)) {
      const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { dependencies?: object };
      if (kind !== 'tool') expect(Object.keys(manifest.dependencies ?? {})).not.toContain('@storefront/testing');
    }
  });

  it('keeps contracts on zod alone', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages/contracts/package.json'), 'utf8')) as {
      dependencies?: object;
    };
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['zod']);
  });
});

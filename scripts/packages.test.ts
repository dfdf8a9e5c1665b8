import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enginesProblems, publicPackages, readmeNodeFloor, tarballProblems } from './packages.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const manifest = {
  exports: {
    '.': {
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
};
const complete = [
  'README.md',
  'LICENSE',
  'package.json',
  'dist/index.js',
  'dist/index.cjs',
  'dist/index.d.ts',
  'dist/index.d.cts',
  'dist/chunk-ABC.js.map',
];

describe('tarball contents', () => {
  it('accepts dist, typings, README, LICENSE and package.json', () => {
    expect(tarballProblems('@satchel/x', complete, manifest)).toEqual([]);
  });

  it('refuses the tarball the first packages shipped: sources, tests and testkits, no README or LICENSE', () => {
    const old = [
      'package.json',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'src/index.ts',
      'src/client.test.ts',
      'src/fake-server.testkit.ts',
    ];
    expect(tarballProblems('@satchel/sdk', old, manifest)).toEqual([
      '@satchel/sdk: the tarball has no README.md',
      '@satchel/sdk: the tarball has no LICENSE',
      '@satchel/sdk: exports ./dist/index.d.cts, not in the tarball',
      '@satchel/sdk: ships src/index.ts, outside dist/',
      '@satchel/sdk: ships src/client.test.ts, outside dist/',
      '@satchel/sdk: ships src/fake-server.testkit.ts, outside dist/',
    ]);
  });

  it('refuses a test or testkit compiled into dist', () => {
    expect(tarballProblems('@satchel/x', [...complete, 'dist/client.test.js'], manifest)).toEqual([
      '@satchel/x: ships dist/client.test.js, a test or source file',
    ]);
  });
});

describe('engines', () => {
  it('reports a dependency that wants a newer Node.js than the package promises (ky@2 wants 22)', () => {
    expect(
      enginesProblems('@satchel/sdk', '>=20.19', [
        { name: 'ky', version: '2.1.0', node: '>=22', via: 'ky' },
        { name: 'idb', version: '8.0.4', node: undefined, via: 'idb' },
      ]),
    ).toEqual(['@satchel/sdk: engines.node is ">=20.19", but ky@2.1.0 (ky) wants node ">=22"']);
  });

  it('accepts dependencies that support every version the package promises', () => {
    expect(
      enginesProblems('@satchel/server', '>=20.19', [
        { name: 'hono', version: '4.13.19', node: '>=16.9.0', via: 'hono' },
        { name: 'x', version: '1.0.0', node: '^18 || >=20', via: 'a > x' },
      ]),
    ).toEqual([]);
  });

  it('reports a package without engines.node', () => {
    expect(enginesProblems('@satchel/x', undefined, [])).toEqual([
      '@satchel/x: package.json has no engines.node',
    ]);
  });

  it('reads the floor a README states', () => {
    expect(readmeNodeFloor('On a machine with Node.js ≥ 20.19 and npm:')).toBe('20.19');
    expect(readmeNodeFloor('Requires Node.js >= 22')).toBe('22');
    expect(readmeNodeFloor('No version here')).toBeNull();
  });
});

describe('public packages', () => {
  it('lists protocol and core before the packages that depend on them', () => {
    const names = publicPackages(root).map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(['@satchel/protocol', '@satchel/core', '@satchel/sdk', '@satchel/server']),
    );
    expect(names.indexOf('@satchel/core')).toBeLessThan(names.indexOf('@satchel/sdk'));
    expect(names.indexOf('@satchel/protocol')).toBeLessThan(names.indexOf('@satchel/server'));
  });
});

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The layering of docs/architecture.md: for each package, the workspace packages it may import,
 * and whether it may use Node.js built-ins (the pure and isomorphic layers may not).
 */
export const LAYERS: Readonly<
  Record<string, { readonly imports: readonly string[]; readonly node: boolean }>
> = {
  'packages/protocol': { imports: [], node: false },
  'packages/core': { imports: [], node: false },
  'packages/sdk': { imports: ['@satchel/protocol', '@satchel/core'], node: false },
  'packages/server': { imports: ['@satchel/protocol', '@satchel/core'], node: true },
  'packages/timeline': { imports: ['@satchel/core'], node: false },
  'packages/react': { imports: ['@satchel/sdk'], node: false },
};

const NODE_BUILTINS = new Set([
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
]);

const BROWSER_FORBIDDEN = [
  /^zod(\/|$)/,
  /^@satchel\/(protocol|core)\/schemas$/,
  /^@satchel\/protocol\/openapi$/,
];

/**
 * What a browser bundle of each package's lean modules may not load at run time. The lean modules are
 * every non-test source file except `schemas/**`, `openapi.ts` and the `entries/` that re-export them:
 * in protocol and core they make up the default entry (data and pure functions; the zod schemas are in
 * the `/schemas` entries), in the browser packages (sdk, react, timeline) every entry. A type-only import
 * (`import type`) is erased and allowed. `pnpm size` checks the same on the bundle of the installed packages.
 */
export const LEAN: Readonly<Record<string, { readonly forbidden: readonly RegExp[] }>> = {
  'packages/protocol': { forbidden: [/^zod(\/|$)/, /(^|\/)schemas\//, /(^|\/)openapi\.js$/] },
  'packages/core': { forbidden: [/^zod(\/|$)/, /(^|\/)schemas\//] },
  'packages/sdk': { forbidden: BROWSER_FORBIDDEN },
  'packages/react': { forbidden: BROWSER_FORBIDDEN },
  'packages/timeline': { forbidden: BROWSER_FORBIDDEN },
};

/** Whether a file (path relative to its package's `src/`) is one of the package's schema modules. */
export function isSchemaModule(relPath: string): boolean {
  return /^(schemas\/|openapi\.ts$|entries\/(schemas|openapi)\.ts$)/.test(relPath);
}

const VALUE_IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]/g;

/** The module specifiers a source file loads at run time (type-only imports and exports left out). */
export function valueImportsOf(source: string): string[] {
  return [...source.matchAll(VALUE_IMPORT_RE)].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter(Boolean);
}

/** The run-time imports of a lean module of `pkgDir` that would pull a validator into a browser bundle. */
export function leanViolations(pkgDir: string, source: string): string[] {
  const lean = LEAN[pkgDir];
  if (lean === undefined) return [];
  return valueImportsOf(source).filter((spec) => lean.forbidden.some((re) => re.test(spec)));
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module specifiers a source file imports. */
export function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT_RE)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').filter(Boolean);
}

/** The specifiers in `source` that package `pkgDir` may not import. Test files may use Node built-ins. */
export function violations(pkgDir: string, source: string, { testFile = false } = {}): string[] {
  const layer = LAYERS[pkgDir];
  if (layer === undefined) return [];
  const own = `@satchel/${pkgDir.split('/')[1]}`;
  return importsOf(source).filter((spec) => {
    if (spec.startsWith('@satchel/')) {
      const target = spec.split('/').slice(0, 2).join('/');
      return target !== own && !layer.imports.includes(target);
    }
    if (/^(\.\.\/)+(packages|apps|test)\//.test(spec) || /^(\.\.\/){2,}/.test(spec)) return true;
    if (!layer.node && !testFile && (spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0] ?? '')))
      return true;
    return false;
  });
}

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(c|m)?[jt]sx?$/.test(name)) yield path;
  }
}

/** Every layering problem in the workspace at `root`: imports and declared dependencies. */
export function checkWorkspace(root: string): string[] {
  const problems: string[] = [];
  for (const [pkgDir, layer] of Object.entries(LAYERS)) {
    const abs = join(root, pkgDir);
    let manifest: Record<string, Record<string, string> | undefined>;
    try {
      manifest = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(manifest[field] ?? {})) {
        if (dep.startsWith('@satchel/') && !layer.imports.includes(dep)) {
          problems.push(`${pkgDir}/package.json: ${field} lists ${dep}, which ${pkgDir} may not depend on`);
        }
      }
    }
    for (const file of sourceFiles(join(abs, 'src'))) {
      const testFile = /\.(test|testkit)\.[jt]s$|\/testing\//.test(file);
      const source = readFileSync(file, 'utf8');
      for (const spec of violations(pkgDir, source, { testFile })) {
        problems.push(`${relative(root, file)}: imports '${spec}', which ${pkgDir} may not import`);
      }
      if (!testFile && !isSchemaModule(relative(join(abs, 'src'), file))) {
        for (const spec of leanViolations(pkgDir, source)) {
          problems.push(
            `${relative(root, file)}: loads '${spec}' at run time, which a lean module may not (a browser bundle would take zod; see docs/architecture.md)`,
          );
        }
      }
    }
  }
  return problems;
}

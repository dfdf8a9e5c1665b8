#!/usr/bin/env node
// Enforces the layering in docs/architecture.md: which workspace package may import which.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** For each package directory: the workspace packages it may import. */
export const allowed = {
  'packages/protocol': [],
  'packages/core': [],
  'packages/sdk': ['@satchel/protocol', '@satchel/core'],
  'packages/server': ['@satchel/protocol', '@satchel/core'],
};

const importRe =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(c|m)?[jt]sx?$/.test(name)) yield path;
  }
}

export function violations(pkgDir, source) {
  const found = [];
  const allow = allowed[pkgDir];
  for (const m of source.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (!spec) continue;
    const own = `@satchel/${pkgDir.split('/')[1]}`;
    if (spec.startsWith('@satchel/')) {
      const target = spec.split('/').slice(0, 2).join('/');
      if (target !== own && !allow.includes(target)) found.push(spec);
    } else if (/^(\.\.\/)+(packages|apps)\//.test(spec) || /\.\.\/\.\.\/(?!src)/.test(spec)) {
      found.push(spec);
    }
  }
  return found;
}

const problems = [];
for (const pkgDir of Object.keys(allowed)) {
  const abs = join(root, pkgDir);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const dep of Object.keys(manifest[field] ?? {})) {
      if (dep.startsWith('@satchel/') && !allowed[pkgDir].includes(dep)) {
        problems.push(`${pkgDir}/package.json: ${field} lists ${dep}, which ${pkgDir} may not depend on`);
      }
    }
  }
  for (const file of files(join(abs, 'src'))) {
    for (const spec of violations(pkgDir, readFileSync(file, 'utf8'))) {
      problems.push(`${relative(root, file)}: imports '${spec}', which ${pkgDir} may not import`);
    }
  }
}

if (problems.length > 0) {
  console.error(`Layering violations (see docs/architecture.md):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`layering: ${Object.keys(allowed).length} packages checked, no violations`);

// The workspace's public packages as a registry ships them: which they are, their packed tarballs, what
// a tarball must and must not hold, and whether each package's `engines` agrees with its dependencies'.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import semver from 'semver';

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly engines?: { readonly node?: string };
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

/** A public (publishable) package of the workspace. */
export interface PublicPackage {
  /** e.g. `@satchel/sdk` */
  readonly name: string;
  /** e.g. `packages/sdk`, relative to the workspace root */
  readonly dir: string;
  readonly manifest: Manifest;
}

function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/** Every package under `packages/` that is not private, in dependency order (dependencies first). */
export function publicPackages(root: string): PublicPackage[] {
  const found: PublicPackage[] = [];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const path = join(root, 'packages', name, 'package.json');
    if (!existsSync(path)) continue;
    const manifest = readManifest(path);
    if (manifest.private === true) continue;
    found.push({ name: manifest.name, dir: `packages/${name}`, manifest });
  }
  const names = new Set(found.map((p) => p.name));
  const ordered: PublicPackage[] = [];
  const visit = (pkg: PublicPackage, path: readonly string[]) => {
    if (ordered.includes(pkg)) return;
    if (path.includes(pkg.name)) throw new Error(`dependency cycle: ${[...path, pkg.name].join(' -> ')}`);
    for (const dep of Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })) {
      const target = found.find((p) => p.name === dep);
      if (names.has(dep) && target !== undefined) visit(target, [...path, pkg.name]);
    }
    ordered.push(pkg);
  };
  for (const pkg of found) visit(pkg, []);
  return ordered;
}

/**
 * Packs every public package with `pnpm pack` (which writes `workspace:*` as the version) into `dest`.
 * Expects the packages to be built (`pnpm build`). Returns the tarball path of each package, by name.
 */
export function packPublic(root: string, dest: string): Map<string, string> {
  mkdirSync(dest, { recursive: true });
  const tarballs = new Map<string, string>();
  for (const pkg of publicPackages(root)) {
    if (!existsSync(join(root, pkg.dir, 'dist'))) {
      throw new Error(`${pkg.name} is not built: run \`pnpm build\` first`);
    }
    const out = execFileSync('pnpm', ['pack', '--json', '--pack-destination', dest], {
      cwd: join(root, pkg.dir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { filename } = JSON.parse(out) as { filename: string };
    tarballs.set(pkg.name, filename.startsWith('/') ? filename : join(dest, filename));
  }
  return tarballs;
}

/** The paths inside a tarball, without the leading `package/`. */
export function tarballFiles(tarball: string): string[] {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.endsWith('/') === false && line.length > 0)
    .map((line) => line.replace(/^package\//, ''));
}

/**
 * What is wrong with a tarball's file list: it must hold the README, the LICENSE, the package.json and,
 * for every entry of `exports`, the ESM and CJS code and their typings; it must hold nothing but `dist/`
 * besides those, and no test, testkit or source file.
 */
export function tarballProblems(name: string, files: readonly string[], manifest: unknown): string[] {
  const problems: string[] = [];
  const have = new Set(files);
  for (const required of ['README.md', 'LICENSE', 'package.json']) {
    if (!have.has(required)) problems.push(`${name}: the tarball has no ${required}`);
  }
  for (const target of exportTargets(manifest)) {
    if (!have.has(target.replace(/^\.\//, '')))
      problems.push(`${name}: exports ${target}, not in the tarball`);
  }
  for (const file of files) {
    if (['README.md', 'LICENSE', 'package.json'].includes(file)) continue;
    if (!file.startsWith('dist/')) problems.push(`${name}: ships ${file}, outside dist/`);
    else if (/\.(test|testkit|spec)\.|\/(testing|__tests__)\/|\.ts$(?<!\.d\.ts)/.test(file)) {
      problems.push(`${name}: ships ${file}, a test or source file`);
    }
  }
  return problems;
}

function exportTargets(manifest: unknown): string[] {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') out.push(value);
    else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) walk(v);
  };
  walk((manifest as { exports?: unknown }).exports);
  return out.filter((target) => target !== './package.json');
}

/** One dependency's `engines.node`, as installed. */
export interface DependencyEngines {
  readonly name: string;
  readonly version: string;
  readonly node: string | undefined;
  /** How the package reaches it, e.g. `ky` or `hono > @hono/foo`. */
  readonly via: string;
}

/** Where `name` resolves from `fromDir`, as Node.js looks it up (node_modules upwards). */
function resolvePackageDir(fromDir: string, name: string): string | null {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) return realpathSync(dirname(candidate));
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The `engines.node` of every package a public package installs with it: its dependencies, its peer
 * dependencies (optional ones included: a player who adds them runs them) and, transitively, theirs.
 * Workspace packages are left out (each is checked on its own).
 */
export function dependencyEngines(root: string, pkg: PublicPackage): DependencyEngines[] {
  const seen = new Set<string>();
  const out: DependencyEngines[] = [];
  const visit = (fromDir: string, manifest: Manifest, via: readonly string[], withPeers: boolean) => {
    const deps = {
      ...manifest.dependencies,
      ...manifest.optionalDependencies,
      ...(withPeers ? manifest.peerDependencies : {}),
    };
    for (const name of Object.keys(deps).sort()) {
      if (name.startsWith('@satchel/')) continue;
      const dir = resolvePackageDir(fromDir, name);
      if (dir === null) {
        if (
          manifest.optionalDependencies?.[name] !== undefined ||
          manifest.peerDependencies?.[name] !== undefined
        )
          continue;
        throw new Error(`${[...via, name].join(' > ')} is not installed (run pnpm install)`);
      }
      if (seen.has(dir)) continue;
      seen.add(dir);
      const dep = readManifest(join(dir, 'package.json'));
      out.push({ name, version: dep.version, node: dep.engines?.node, via: [...via, name].join(' > ') });
      visit(dir, dep, [...via, name], false);
    }
  };
  visit(join(root, pkg.dir), pkg.manifest, [], true);
  return out;
}

/**
 * Where a package's `engines.node` promises more than a dependency supports: every Node.js version the
 * package accepts must be one each dependency accepts (`semver.subset`).
 */
export function enginesProblems(
  name: string,
  node: string | undefined,
  dependencies: readonly DependencyEngines[],
): string[] {
  if (node === undefined) return [`${name}: package.json has no engines.node`];
  const problems: string[] = [];
  for (const dep of dependencies) {
    if (dep.node === undefined) continue;
    if (!semver.validRange(dep.node)) continue;
    if (!semver.subset(node, dep.node, { includePrerelease: false })) {
      problems.push(
        `${name}: engines.node is "${node}", but ${dep.name}@${dep.version} (${dep.via}) wants node "${dep.node}"`,
      );
    }
  }
  return problems;
}

/** The Node.js floor a README states ("Node.js ≥ 20.19"), or null when it names none. */
export function readmeNodeFloor(readme: string): string | null {
  const match = /Node\.js\s*(?:≥|>=)\s*(\d+(?:\.\d+){0,2})/.exec(readme);
  return match?.[1] ?? null;
}

/**
 * Every disagreement about the Node.js versions Satchel supports: each public package's `engines.node`
 * against its dependencies' (transitively), against the root package.json's, and against the floor its
 * README and the repository's README state.
 */
export function checkEngines(root: string): string[] {
  const rootManifest = readManifest(join(root, 'package.json'));
  const floor = rootManifest.engines?.node;
  const problems: string[] = [];
  if (floor === undefined) return ['package.json: no engines.node'];
  const readmes = [
    { path: 'README.md', text: readFileSync(join(root, 'README.md'), 'utf8') },
    ...publicPackages(root).map((pkg) => ({
      path: `${pkg.dir}/README.md`,
      text: existsSync(join(root, pkg.dir, 'README.md'))
        ? readFileSync(join(root, pkg.dir, 'README.md'), 'utf8')
        : '',
    })),
  ];
  for (const { path, text } of readmes) {
    const stated = readmeNodeFloor(text);
    if (stated === null) problems.push(`${path}: states no Node.js version (expected "Node.js ≥ …")`);
    else if (semver.minVersion(floor)?.version !== semver.coerce(stated)?.version) {
      problems.push(`${path}: states Node.js ≥ ${stated}, but package.json's engines.node is "${floor}"`);
    }
  }
  for (const pkg of publicPackages(root)) {
    const node = pkg.manifest.engines?.node;
    if (node !== floor)
      problems.push(`${pkg.dir}/package.json: engines.node is "${node}", the workspace's is "${floor}"`);
    problems.push(...enginesProblems(pkg.name, node, dependencyEngines(root, pkg)));
  }
  return problems;
}

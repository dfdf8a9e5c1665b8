// `pnpm check:packages`: every public package as a registry would ship it. Packs each built package, then
// checks the tarball's contents, runs publint and @arethetypeswrong/cli (ESM and CJS under node16
// and bundler resolution) on it, and compares `engines` with every dependency's. Run `pnpm build`
// first. Exits 1 on the first kind of problem it prints.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { checkEngines, packPublic, publicPackages, tarballFiles, tarballProblems } from './packages.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'satchel-pack-'));
const problems: string[] = [];

try {
  problems.push(...checkEngines(root));
  const tarballs = packPublic(root, dest);
  for (const pkg of publicPackages(root)) {
    const tarball = tarballs.get(pkg.name);
    if (tarball === undefined) throw new Error(`${pkg.name} was not packed`);
    const files = tarballFiles(tarball);
    const packed = JSON.parse(
      execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
    );
    const found = tarballProblems(pkg.name, files, packed);
    const license = files.includes('LICENSE')
      ? execFileSync('tar', ['-xzOf', tarball, 'package/LICENSE'], { encoding: 'utf8' })
      : null;
    if (license !== null && license !== readFileSync(join(root, 'LICENSE'), 'utf8')) {
      found.push(`${pkg.name}: its LICENSE is not the repository's (copy LICENSE into ${pkg.dir}/)`);
    }

    const data = readFileSync(tarball);
    const lint = await publint({
      pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    for (const message of lint.messages) {
      found.push(
        `${pkg.name}: publint ${message.type}: ${formatMessage(message, lint.pkg, { color: false })}`,
      );
    }

    try {
      execFileSync(
        'pnpm',
        ['exec', 'attw', tarball, '--profile', 'node16', '--format', 'ascii', '--no-emoji'],
        {
          cwd: root,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (error) {
      const out = (error as { stdout?: string }).stdout ?? String(error);
      found.push(`${pkg.name}: @arethetypeswrong/cli found problems:\n${out}`);
    }

    const size = (readFileSync(tarball).length / 1024).toFixed(1);
    console.log(
      `${found.length === 0 ? 'ok  ' : 'FAIL'} ${pkg.name.padEnd(20)} ${String(files.length).padStart(3)} files, ${size} KB packed: contents, publint, attw`,
    );
    problems.push(...found);
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('engines: every package agrees with its dependencies and the READMEs');

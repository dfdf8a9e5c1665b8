import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A code block in the docs preceded by `<!-- example: <path> -->` is that file of the repository, whole:
// the examples CI builds and runs (test/e2e/examples.e2e.test.ts) are what the docs show. A block that
// only sketches a call, with names that stand for the player's own, says so: `<!-- sketch: … -->`.

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every `<!-- example: path -->` marker of a markdown text, with the fenced block that follows it. */
function markedExamples(markdown: string): Array<{ path: string; code: string | null }> {
  const out: Array<{ path: string; code: string | null }> = [];
  for (const match of markdown.matchAll(/<!-- example: (\S+) -->\n/g)) {
    const rest = markdown.slice((match.index ?? 0) + match[0].length);
    const block = /^```[a-z]*\n([\s\S]*?)^```$/m.exec(rest);
    out.push({ path: match[1] ?? '', code: block?.index === 0 ? (block[1] ?? null) : null });
  }
  return out;
}

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('docs code blocks marked as examples', () => {
  const all = docs.flatMap((doc) =>
    markedExamples(readFileSync(join(root, doc), 'utf8')).map((example) => ({ doc, ...example })),
  );

  it('docs/sdk.md shows the web, React and Electron examples', () => {
    const shown = all.filter((e) => e.doc === 'docs/sdk.md').map((e) => e.path);
    expect(shown).toEqual(
      expect.arrayContaining([
        'examples/web/src/main.ts',
        'examples/react/src/main.tsx',
        'examples/electron/src/main.ts',
        'examples/electron/src/preload.ts',
      ]),
    );
  });

  for (const { doc, path, code } of all) {
    it(`${doc}: the block marked ${path} is that file, whole`, () => {
      expect(code, 'a fenced code block must follow the marker directly').not.toBeNull();
      expect(existsSync(join(root, path)), `${path} exists`).toBe(true);
      expect(code).toBe(readFileSync(join(root, path), 'utf8'));
    });
  }

  it('every TypeScript block of docs/sdk.md is one of those files, or says it is a sketch', () => {
    const sdk = readFileSync(join(root, 'docs/sdk.md'), 'utf8');
    const blocks = [...sdk.matchAll(/^```tsx?$/gm)].length;
    const sketches = [...sdk.matchAll(/^<!-- sketch: .+ -->\n```tsx?$/gm)].length;
    expect(all.filter((e) => e.doc === 'docs/sdk.md').length + sketches).toBe(blocks);
  });

  it('finds a block that differs from its file', () => {
    const [example] = markedExamples('<!-- example: a.ts -->\n```ts\nconst a = 1;\n```\n');
    expect(example).toEqual({ path: 'a.ts', code: 'const a = 1;\n' });
    expect(markedExamples('<!-- example: a.ts -->\ntext\n```ts\nx\n```\n')[0]?.code).toBeNull();
  });
});

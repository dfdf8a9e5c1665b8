import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const docUrl = new URL('../../../docs/domain.md', import.meta.url);
const srcUrl = new URL('./', import.meta.url);
const PREFIXES = 'RECPUW';

/** The rule ids docs/domain.md defines: a bold id in a table row, e.g. `| **R3** |`. */
function documentedIds(doc: string): string[] {
  return [...doc.matchAll(new RegExp(`^\\|\\s*\\*\\*([${PREFIXES}]\\d+)\\*\\*\\s*\\|`, 'gm'))].map(
    (m) => m[1] as string,
  );
}

/** The ids test names start with: a string literal opening with the id and a space, e.g. `'R3 yearly limit'`. */
function namedIds(sources: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (const source of sources) {
    for (const m of source.matchAll(new RegExp(`['"\`]([${PREFIXES}]\\d+) `, 'g'))) ids.add(m[1] as string);
  }
  return ids;
}

function missing(doc: string, sources: readonly string[]): string[] {
  const named = namedIds(sources);
  return documentedIds(doc).filter((id) => !named.has(id));
}

const doc = readFileSync(docUrl, 'utf8');
const testSources = readdirSync(srcUrl)
  .filter((file) => file.endsWith('.test.ts') && file !== 'domain-doc.test.ts')
  .map((file) => readFileSync(new URL(file, srcUrl), 'utf8'));

describe('docs/domain.md and the tests', () => {
  it('defines each id once, numbered 1…n per kind', () => {
    const ids = documentedIds(doc);
    expect(new Set(ids).size).toBe(ids.length);
    for (const prefix of PREFIXES) {
      const numbers = ids.filter((id) => id.startsWith(prefix)).map((id) => Number(id.slice(1)));
      expect(numbers.length, `no ${prefix} ids in docs/domain.md`).toBeGreaterThan(0);
      expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    }
  });

  it('every id in docs/domain.md is named by a test', () => {
    expect(missing(doc, testSources)).toEqual([]);
  });

  it('every id a test names is defined in docs/domain.md', () => {
    const documented = new Set(documentedIds(doc));
    expect([...namedIds(testSources)].filter((id) => !documented.has(id))).toEqual([]);
  });

  it('the check finds an id no test names', () => {
    const doc = '| **R1** | a rule |\n| **R2** | another |\n| **E1** | expiry |\n';
    expect(
      missing(doc, ["it('R1 covered', () => {})", "describe('E1 covered'", "'R20 a different rule'"]),
    ).toEqual(['R2']);
  });
});

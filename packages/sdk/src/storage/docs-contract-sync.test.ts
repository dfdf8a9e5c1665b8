import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('docs/sdk.md', () => {
  it('prints the storage-contract example that docs-contract.test.ts runs', () => {
    const docs = read('../../../../docs/sdk.md');
    const at = docs.indexOf('<!-- example: storage-contract -->');
    expect(at).toBeGreaterThan(0);
    const block = /```ts\n([\s\S]*?)```/.exec(docs.slice(at))?.[1];
    const test = read('./docs-contract.test.ts');
    expect(test.slice(test.indexOf('import { dexieStorage'))).toBe(block);
  });
});

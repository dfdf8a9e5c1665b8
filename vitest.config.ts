import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Tests resolve workspace packages to their sources: no build needed before `pnpm test`. */
export const workspaceAliases = [
  { find: /^@satchel\/protocol$/, replacement: src('./packages/protocol/src/index.ts') },
  { find: /^@satchel\/core$/, replacement: src('./packages/core/src/index.ts') },
  { find: /^@satchel\/sdk$/, replacement: src('./packages/sdk/src/index.ts') },
  { find: /^@satchel\/sdk\/(.*)$/, replacement: src('./packages/sdk/src/entries/$1.ts') },
  { find: /^@satchel\/server$/, replacement: src('./packages/server/src/index.ts') },
];

const ignored = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    passWithNoTests: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: [
            'packages/*/src/**/*.test.ts',
            'apps/*/src/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: [...ignored, '**/*.pg.test.ts', '**/*.browser.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'pg',
          environment: 'node',
          include: ['**/*.pg.test.ts'],
          exclude: ignored,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});

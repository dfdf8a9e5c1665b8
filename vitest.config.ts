import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Tests resolve workspace packages to their sources: no build needed before `pnpm test`. */
export const workspaceAliases = [
  { find: /^@satchel\/protocol$/, replacement: src('./packages/protocol/src/index.ts') },
  { find: /^@satchel\/protocol\/(.*)$/, replacement: src('./packages/protocol/src/entries/$1.ts') },
  { find: /^@satchel\/core$/, replacement: src('./packages/core/src/index.ts') },
  { find: /^@satchel\/core\/(.*)$/, replacement: src('./packages/core/src/entries/$1.ts') },
  { find: /^@satchel\/sdk$/, replacement: src('./packages/sdk/src/index.ts') },
  { find: /^@satchel\/sdk\/(.*)$/, replacement: src('./packages/sdk/src/entries/$1.ts') },
  { find: /^@satchel\/server$/, replacement: src('./packages/server/src/index.ts') },
  { find: /^@satchel\/timeline$/, replacement: src('./packages/timeline/src/index.ts') },
  { find: /^@satchel\/react$/, replacement: src('./packages/react/src/index.ts') },
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
          exclude: [
            ...ignored,
            '**/*.pg.test.ts',
            '**/*.browser.test.ts',
            '**/*.e2e.test.ts',
            '**/*.faults.test.ts',
            '**/*.registry.test.ts',
          ],
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
      {
        // Real Chromium (/usr/bin/chromium), driven from node with playwright-core: several tabs of one
        // origin, reloads and the browser's offline mode (see packages/sdk/src/browser/harness.testkit.ts).
        extends: true,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['**/*.browser.test.ts'],
          exclude: ignored,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // The demo player in Debian Chromium against the reference server started as a child process
        // (test/e2e/harness.ts); screenshots go to test-output/e2e/.
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.e2e.test.ts'],
          exclude: ignored,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
      {
        // The packed packages published to a throwaway local registry (verdaccio), installed with npm into
        // an app outside the workspace, bundled and run in Chromium against the reference server
        // (test/registry): `pnpm test:registry` after `pnpm build`.
        extends: true,
        test: {
          name: 'registry',
          environment: 'node',
          include: ['test/registry/**/*.registry.test.ts'],
          exclude: ignored,
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // Crash/restart, PostgreSQL restart, network faults, request fuzzing and device-storage faults
        // (test/faults, docs/reliability.md): `pnpm test:faults`, not part of `pnpm test`.
        extends: true,
        test: {
          name: 'faults',
          environment: 'node',
          include: ['test/faults/**/*.faults.test.ts'],
          exclude: ignored,
          globalSetup: ['test/faults/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { describe, expect, it } from 'vitest';
import {
  checkWorkspace,
  importsOf,
  isSchemaModule,
  leanViolations,
  valueImportsOf,
  violations,
} from './layering.js';

describe('layering check', () => {
  it('finds static, dynamic, side-effect and require imports', () => {
    const source = [
      "import { a } from '@satchel/core';",
      "export * from './x.js';",
      "import './side-effect.js';",
      "const b = await import('@satchel/server');",
      "const c = require('node:fs');",
    ].join('\n');
    expect(importsOf(source)).toEqual([
      '@satchel/core',
      './x.js',
      './side-effect.js',
      '@satchel/server',
      'node:fs',
    ]);
  });

  it.each([
    ['packages/core', "import { x } from '@satchel/protocol';", ['@satchel/protocol']],
    ['packages/protocol', "import { x } from '@satchel/core';", ['@satchel/core']],
    ['packages/sdk', "import { x } from '@satchel/server';", ['@satchel/server']],
    ['packages/server', "import type { X } from '@satchel/sdk';", ['@satchel/sdk']],
    ['packages/core', "import { readFileSync } from 'node:fs';", ['node:fs']],
    ['packages/sdk', "import { randomUUID } from 'crypto';", ['crypto']],
    ['packages/core', "import { x } from '../../server/src/index.js';", ['../../server/src/index.js']],
  ])('refuses what %s may not import: %s', (pkg, source, expected) => {
    expect(violations(pkg, source)).toEqual(expected);
  });

  it.each([
    [
      'packages/sdk',
      "import { decide } from '@satchel/core';\nimport { SyncRequest } from '@satchel/protocol';",
    ],
    ['packages/server', "import { createServer } from 'node:http';\nimport { upcast } from '@satchel/core';"],
    ['packages/core', "import { evolve } from './state.js';\nimport * as z from 'zod/mini';"],
  ])('allows what %s may import', (pkg, source) => {
    expect(violations(pkg, source)).toEqual([]);
  });

  it('lets test files of pure packages use Node built-ins', () => {
    expect(
      violations('packages/core', "import { readFileSync } from 'node:fs';", { testFile: true }),
    ).toEqual([]);
  });

  it('keeps validators out of the lean modules: only type-only imports of zod and schemas', () => {
    expect(
      valueImportsOf("import type * as z from 'zod/mini';\nexport type { A } from './schemas/a.js';"),
    ).toEqual([]);
    expect(leanViolations('packages/protocol', "import * as z from 'zod/mini';")).toEqual(['zod/mini']);
    expect(leanViolations('packages/protocol', "export { SyncRequest } from './schemas/sync.js';")).toEqual([
      './schemas/sync.js',
    ]);
    expect(leanViolations('packages/core', "import { upcast } from './schemas/events.js';")).toEqual([
      './schemas/events.js',
    ]);
    expect(
      leanViolations('packages/sdk', "import { SyncResponse } from '@satchel/protocol/schemas';"),
    ).toEqual(['@satchel/protocol/schemas']);
    expect(leanViolations('packages/sdk', "import { upcast } from '@satchel/core/schemas';")).toEqual([
      '@satchel/core/schemas',
    ]);
    expect(leanViolations('packages/sdk', "import { z } from 'zod';")).toEqual(['zod']);
    expect(leanViolations('packages/sdk', "import type { SyncResponse } from '@satchel/protocol';")).toEqual(
      [],
    );
    expect(
      leanViolations('packages/server', "import { SyncRequest } from '@satchel/protocol/schemas';"),
    ).toEqual([]);
    expect(isSchemaModule('schemas/sync.ts')).toBe(true);
    expect(isSchemaModule('entries/schemas.ts')).toBe(true);
    expect(isSchemaModule('errors.ts')).toBe(false);
  });

  it('passes on this workspace', () => {
    expect(checkWorkspace(new URL('..', import.meta.url).pathname)).toEqual([]);
  });
});

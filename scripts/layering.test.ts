import { describe, expect, it } from 'vitest';
import { checkWorkspace, importsOf, violations } from './layering.js';

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

  it('passes on this workspace', () => {
    expect(checkWorkspace(new URL('..', import.meta.url).pathname)).toEqual([]);
  });
});

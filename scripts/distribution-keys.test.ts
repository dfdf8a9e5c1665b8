import { describe, expect, it } from 'vitest';
import { documentedExceptions, keyViolations, staleExceptions } from './distribution-keys.js';

const doc = `# Ops

### Keys without account_id

| index | why |
| ----- | --- |
| \`events_feed_idx\` | the feed |

## Next
| \`not_an_exception\` | elsewhere |
`;

describe('distribution keys check', () => {
  const indexes = [
    { table: 'events', index: 'events_pkey', columns: ['account_id', 'stream_version'] },
    { table: 'events', index: 'events_feed_idx', columns: ['transaction_id', 'global_position'] },
    { table: 'things', index: 'things_pkey', columns: ['thing_id'] },
  ];

  it('reads the exceptions of its own section only', () => {
    expect([...documentedExceptions(doc)]).toEqual(['events_feed_idx']);
  });

  it('flags an index without account_id that is not documented', () => {
    expect(keyViolations(indexes, documentedExceptions(doc))).toEqual(['things.things_pkey (thing_id)']);
  });

  it('flags a documented exception that no longer exists', () => {
    expect(staleExceptions(indexes.slice(0, 1), documentedExceptions(doc))).toEqual(['events_feed_idx']);
  });
});

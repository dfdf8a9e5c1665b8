// `pnpm check:keys` (part of `pnpm lint`): migrates an in-memory PGlite and checks that every index key
// includes account_id, except the documented ones (scripts/distribution-keys.ts).
import { readFileSync } from 'node:fs';
import { migrate, pgliteDatabase } from '@satchel/server';
import {
  documentedExceptions,
  INDEX_KEYS_SQL,
  type IndexKey,
  keyViolations,
  staleExceptions,
} from './distribution-keys.js';

const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
const exceptions = documentedExceptions(doc);
const db = await pgliteDatabase();
await migrate(db);
const rows = await db.query<{ table: string; index: string; columns: string }>(INDEX_KEYS_SQL);
await db.close();
const indexes: IndexKey[] = rows.map((r) => ({
  table: r.table,
  index: r.index,
  columns: JSON.parse(r.columns) as string[],
}));
const violations = keyViolations(indexes, exceptions);
const stale = staleExceptions(indexes, exceptions);
if (violations.length > 0 || stale.length > 0) {
  if (violations.length > 0) {
    console.error(
      `Keys without account_id (distribute by account, or document the index in docs/operations.md, "Keys without account_id"):\n  ${violations.join('\n  ')}`,
    );
  }
  if (stale.length > 0) console.error(`Documented exceptions that no longer exist:\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `keys: ${indexes.length} indexes checked, ${exceptions.size} documented exceptions, no violations`,
);

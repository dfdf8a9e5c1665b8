// The schema stays distributable by account (Citus, docs/operations.md "Citus"): every table's key and
// every index includes `account_id`, except the ones docs/operations.md lists, with a reason, under
// "Keys without account_id".

/** One index (primary keys and unique constraints included) and its key columns. */
export interface IndexKey {
  table: string;
  index: string;
  columns: readonly string[];
}

/** The exceptions documented in docs/operations.md: index names in the first column of the table under the heading. */
export function documentedExceptions(markdown: string): Set<string> {
  const start = markdown.indexOf('### Keys without account_id');
  if (start < 0) return new Set();
  const rest = markdown.slice(start + 1);
  const end = rest.search(/\n#{1,3} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return new Set([...section.matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|/gm)].map((m) => m[1] as string));
}

/** The indexes whose key does not include `account_id` and that are not documented exceptions. */
export function keyViolations(indexes: readonly IndexKey[], exceptions: ReadonlySet<string>): string[] {
  return indexes
    .filter((i) => !i.columns.includes('account_id') && !exceptions.has(i.index))
    .map((i) => `${i.table}.${i.index} (${i.columns.join(', ')})`);
}

/** Exceptions listed that no longer exist (stale documentation). */
export function staleExceptions(indexes: readonly IndexKey[], exceptions: ReadonlySet<string>): string[] {
  const names = new Set(indexes.map((i) => i.index));
  return [...exceptions].filter((e) => !names.has(e));
}

/** Reads every index of the public schema with its key columns (expressions as `(expr)`). */
export const INDEX_KEYS_SQL = `SELECT t.relname AS "table", i.relname AS "index",
    array_to_json(array(SELECT coalesce(a.attname, '(expr)') FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n))::text AS columns
  FROM pg_index x
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_namespace ns ON ns.oid = t.relnamespace
  WHERE ns.nspname = 'public'
  ORDER BY 1, 2`;

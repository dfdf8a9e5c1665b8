// The few assertions the storage contract needs, without a test framework: the suite runs under any
// runner (vitest, Jest, Mocha, node:test) and in a plain browser page. Each throws an `AssertionError`.

/** Thrown when a contract case finds a storage behaving other than the contract says. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Structural equality of JSON-like values (plain objects, arrays, primitives); `undefined` keys count. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (!isObject(a) || !isObject(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

/** Whether `actual` holds every key of `expected` with a matching value (arrays: same length, each matching). */
export function matchesObject(actual: unknown, expected: unknown): boolean {
  if (!isObject(expected)) return Object.is(actual, expected) || deepEqual(actual, expected);
  if (!isObject(actual)) return false;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => matchesObject(actual[i], e))
    );
  }
  return Object.keys(expected).every((k) => matchesObject(actual[k], expected[k]));
}

/** Asserts structural equality. */
export function equal(actual: unknown, expected: unknown, what = 'value'): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Asserts that `actual` holds `expected`'s keys and values (extra keys allowed). */
export function matchObject(actual: unknown, expected: unknown, what = 'value'): void {
  if (!matchesObject(actual, expected)) {
    throw new AssertionError(`${what}: expected to match ${show(expected)}, got ${show(actual)}`);
  }
}

/** Asserts that a string matches a pattern. */
export function match(actual: unknown, pattern: RegExp, what = 'value'): void {
  if (typeof actual !== 'string' || !pattern.test(actual)) {
    throw new AssertionError(`${what}: expected a string matching ${pattern}, got ${show(actual)}`);
  }
}

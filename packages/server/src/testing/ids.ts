import { randomUUID } from 'node:crypto';

/** Random identifiers for tests. */
export const uid = (prefix = 'id'): string => `${prefix}-${randomUUID().slice(0, 8)}`;
export const uuid = (): string => randomUUID();

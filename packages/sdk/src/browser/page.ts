import { createSatchel, idbStorage, isSatchelError } from '../index.js';

// What the browser tests and the benchmark drive through `page.evaluate`.
Object.assign(globalThis, { Satchel: { createSatchel, idbStorage, isSatchelError } });

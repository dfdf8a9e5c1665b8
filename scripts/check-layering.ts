import { fileURLToPath } from 'node:url';
import { checkWorkspace, LAYERS } from './layering.js';

const problems = checkWorkspace(fileURLToPath(new URL('..', import.meta.url)));
if (problems.length > 0) {
  console.error(`Layering violations (see docs/architecture.md):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`layering: ${Object.keys(LAYERS).length} packages checked, no violations`);

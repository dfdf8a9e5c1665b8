import { runCli } from './cli/program.js';

// `pnpm satchel <command>`: see `pnpm satchel --help` and docs/operations.md.
process.exit(await runCli(process.argv.slice(2)));

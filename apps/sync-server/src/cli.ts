import { runCli } from './cli/program.js';

// A reader that stops reading (`pnpm satchel history … | head`) ends the CLI quietly, as for other
// Unix tools: there is no one left to write to.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// `pnpm satchel <command>`: see `pnpm satchel --help` and docs/operations.md.
process.exit(await runCli(process.argv.slice(2)));

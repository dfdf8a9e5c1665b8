import { Command } from 'commander';
import { COMMANDS } from './commands/index.js';
import { ApiError } from './connection.js';
import { cliContext } from './context.js';
import { flushed } from './output.js';

/** The `satchel` program: global options, every command of commands/index.ts. */
export function createProgram(): Command {
  const program = new Command('satchel')
    .description(
      'Operate a Satchel server through its admin API: over HTTP to a running server (--server, SATCHEL_SERVER, or the server that owns the PGlite directory), or, when none runs, on the database in this process.',
    )
    .option(
      '--server <url>',
      'the server to speak to (default SATCHEL_SERVER, else the one running on SATCHEL_DATA_DIR)',
    )
    .option('--json', 'print JSON on stdout')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nEnvironment: SATCHEL_OPERATOR_TOKEN (the operator token; else an admin token is minted from SATCHEL_TOKEN_SECRET), SATCHEL_SERVER, DATABASE_URL, SATCHEL_DATA_DIR.',
    );
  for (const add of COMMANDS) add(program, cliContext);
  return program;
}

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code once stdout and stderr are flushed. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  let code = 0;
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) {
      // Help asked for is a success; a usage error is 2, as for other command-line tools.
      code = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code) ? 0 : 2;
    } else if (e instanceof ApiError) {
      process.stderr.write(`satchel: ${e.code}: ${e.message}\n${e.hint ? `satchel: ${e.hint}\n` : ''}`);
      code = 1;
    } else {
      process.stderr.write(`satchel: ${err.message ?? String(e)}\n`);
      code = 1;
    }
  }
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  return code;
}

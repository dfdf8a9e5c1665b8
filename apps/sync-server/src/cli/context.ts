import type { Command } from 'commander';
import { type Api, connect } from './connection.js';
import { createOutput, type Output } from './output.js';

/** What a command file gets: a way to run against the admin API, and the output. */
export interface CliContext {
  /**
   * Connects (server or local mode, said on stderr), runs `work`, and closes. The global options
   * `--server` and `--json` are read from `command`.
   */
  run(command: Command, work: (api: Api, out: Output) => Promise<void>): Promise<void>;
  /** The output of a command that needs no connection (e.g. minting a token from the secret). */
  output(command: Command): Output;
}

/** One file of commands: adds its commands to the program. Add a file, then list it in commands/index.ts. */
export type CliCommands = (program: Command, context: CliContext) => void;

const globals = (command: Command) => command.optsWithGlobals() as { server?: string; json?: boolean };

export const cliContext: CliContext = {
  output: (command) => createOutput(globals(command).json === true),
  async run(command, work) {
    const { server, json } = globals(command);
    const out = createOutput(json === true);
    const api = await connect({ server });
    out.note(`satchel: ${api.mode === 'server' ? 'via' : 'on the'} ${api.where}`);
    try {
      await work(api, out);
    } finally {
      await api.close();
    }
  },
};

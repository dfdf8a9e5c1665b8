import type { CliCommands } from '../context.js';
import { accountCommands } from './accounts.js';
import { catalogueCommands } from './catalogue.js';
import { historyCommands } from './history.js';
import { projectionCommands } from './projections.js';
import { tokenCommands } from './token.js';

/** Every command file of the CLI, in the order `--help` lists them. Add a file, then list it here. */
export const COMMANDS: readonly CliCommands[] = [
  tokenCommands,
  accountCommands,
  catalogueCommands,
  historyCommands,
  projectionCommands,
];

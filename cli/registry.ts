/** Every `abrec` command. */
import type { CliCommand } from './command.ts';
import { buildDefaultModelsCommand } from './commands/build-default-models.ts';
import { serveCommand } from './commands/serve.ts';

export const COMMANDS: readonly CliCommand[] = [serveCommand, buildDefaultModelsCommand];

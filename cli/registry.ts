/** Every `abrec` command, in the order `abrec --help` lists them. */
import type { CliCommand } from './command.ts';
import { analyzeCommand } from './commands/analyze.ts';
import { benchAnalysisCommand } from './commands/bench-analysis.ts';
import { benchLoadCommand } from './commands/bench-load.ts';
import { benchServeCommand } from './commands/bench-serve.ts';
import { benchSimulateCommand } from './commands/bench-simulate.ts';
import { benchSurpriseCommand } from './commands/bench-surprise.ts';
import { benchTrainCommand } from './commands/bench-train.ts';
import { buildDefaultModelsCommand } from './commands/build-default-models.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { experimentsCommand } from './commands/experiments.ts';
import { generateCommand } from './commands/generate.ts';
import { powerCommand } from './commands/power.ts';
import { retrainCommand } from './commands/retrain.ts';
import { serveCommand } from './commands/serve.ts';
import { simulateCommand } from './commands/simulate.ts';
import { trainCommand } from './commands/train.ts';
import { tuneCommand } from './commands/tune.ts';

export const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  simulateCommand,
  experimentsCommand,
  analyzeCommand,
  powerCommand,
  generateCommand,
  evaluateCommand,
  trainCommand,
  tuneCommand,
  retrainCommand,
  benchTrainCommand,
  benchAnalysisCommand,
  benchServeCommand,
  benchLoadCommand,
  benchSimulateCommand,
  benchSurpriseCommand,
  buildDefaultModelsCommand,
];

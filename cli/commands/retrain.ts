import { DEFAULT_RETRAINING_INPUT } from '../../lib/retraining-input.ts';
import { RETRAINING_NOTIFICATIONS } from '../../local/notifications.ts';
import { parseCommandArgs, UsageError, type CliCommand } from '../command.ts';

const MODEL = /^([A-Za-z0-9._-]+)=([a-z-]+)$/;

export const retrainCommand: CliCommand = {
  path: ['retrain'],
  summary: 'Run the weekly retraining state machine locally (snapshot, train and gate each model, publish, switch followers, notify)',
  help: `Usage: abrec retrain [--model ID=ALGORITHM]... [--max-regression R] [--data-dir DIR] [--json]

Executes the Step Functions definition synthesized from the CDK stack with
aws-local-stepfunctions, running the same retraining Lambda handlers against dynalite and
s3rver on the data directory (stop \`abrec serve\` on that directory first: the DynamoDB files
take one process; a running runtime retrains on its own weekly schedule). Each state is
printed as it runs:

  Snapshot         the previous snapshot (the bundled ratings on the first run) plus the
                   ratings, clicks, purchases and watch time logged since the last run, up to
                   the data directory's clock (what \`abrec serve\` stamps on events)
  TrainEach (Map)  for every model of the default set and every model a running experiment
                   follows: Train, Evaluate (candidate and published version on the same
                   held-out split), Gate, Accept | Reject
  Publish          moves models/ID/latest.json of each accepted candidate
  SwitchFollowers  experiments that follow latest switch to the new versions
  Notify           the outcome, appended to <data dir>/${RETRAINING_NOTIFICATIONS}

and the published versions at the end. A failure puts every pointer back and notifies.

Options:
  --model ID=ALGORITHM   a model to train instead of the default set, repeatable
                         (default: ${DEFAULT_RETRAINING_INPUT.models.map((m) => `${m.model_id}=${m.algorithm}`).join(' ')})
  --max-regression R     allowed relative drop of nDCG@10 against the published version on
                         the same split, 0..1 (default: ${DEFAULT_RETRAINING_INPUT.max_regression})
  --data-dir DIR         local data directory (default: $ABREC_DATA_DIR or .abrec-data)
  --json                 print the execution result as one JSON line

Example: abrec retrain --model als=als --max-regression 0.05`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      model: { type: 'string', multiple: true },
      'max-regression': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    const maxRegression = Number(values['max-regression'] ?? DEFAULT_RETRAINING_INPUT.max_regression);
    if (!(maxRegression >= 0 && maxRegression <= 1)) throw new UsageError('--max-regression must be a number from 0 to 1');
    const models = (values.model ?? []).map((spec) => {
      const match = MODEL.exec(spec);
      if (!match) throw new UsageError(`--model must be ID=ALGORITHM (e.g. als=als), got "${spec}"`);
      return { model_id: match[1], algorithm: match[2] };
    });
    const input = {
      dataset_prefix: DEFAULT_RETRAINING_INPUT.dataset_prefix,
      models: models.length > 0 ? models : DEFAULT_RETRAINING_INPUT.models.map((m) => ({ ...m })),
      max_regression: maxRegression,
      run_id: `local-${new Date().toISOString()}`,
    };
    // Loaded here, not at the top: it synthesizes the CDK definition (aws-cdk-lib), which --help does not need.
    const { runLocalRetraining } = await import('../../local/retrain.ts');
    const run = await runLocalRetraining({
      dataDir: values['data-dir'] ?? io.env.ABREC_DATA_DIR ?? '.abrec-data',
      input,
      onEvent: (line) => io.stderr(`retrain: ${line}\n`),
    });
    if (values.json) {
      io.stdout(`${JSON.stringify(run)}\n`);
    } else {
      io.stdout(`${run.status}: ${run.path.join(' -> ')}\n`);
      const output = run.output as {
        published?: { versions?: Record<string, string>; models?: { model_id: string; decision: string; reason: string }[] };
        snapshot?: { logged?: Record<string, number>; ratings?: number };
      };
      if (output.snapshot) io.stdout(`snapshot: ${output.snapshot.ratings} ratings; logged since the last run: ${JSON.stringify(output.snapshot.logged)}\n`);
      for (const model of output.published?.models ?? []) io.stdout(`${model.model_id}: ${model.decision} (${model.reason})\n`);
      const versions = output.published?.versions ?? {};
      io.stdout(
        `published versions: ${
          Object.keys(versions).length === 0
            ? 'none'
            : Object.entries(versions)
                .map(([id, v]) => `${id}@${v}`)
                .join(', ')
        }\n`,
      );
      if (run.status !== 'SUCCEEDED') io.stdout(`${JSON.stringify(run.output, null, 2)}\n`);
    }
    return run.status === 'SUCCEEDED' ? 0 : 1;
  },
};

import { parseArgs } from 'node:util';
import { DEFAULT_RETRAINING_INPUT } from '../../lib/constructs/retraining-workflow.ts';
import { runLocalRetraining } from '../../local/retrain.ts';
import { UsageError, type CliCommand } from '../command.ts';

export const retrainCommand: CliCommand = {
  path: ['retrain'],
  summary: 'Run the weekly retraining state machine locally (train, evaluate, gate, publish)',
  help: `Usage: abrec retrain [--model-id ID] [--algorithm NAME] [--dataset-prefix PREFIX] [--max-regression R] [--data-dir DIR] [--json]

Executes the Step Functions definition synthesized from the CDK stack with
aws-local-stepfunctions, running the same retraining Lambda handlers against s3rver on the
data directory (safe beside a running \`abrec serve\`). The candidate is trained on the ratings
under PREFIX in the artifacts bucket (the bundled synthetic u.data by default), evaluated on a
75/25 per-user holdout and published as models/ID/latest.json only if its nDCG@10 is at most
R below the published version's.

Options:
  --model-id ID          model id to publish under (default: ${DEFAULT_RETRAINING_INPUT.model_id})
  --algorithm NAME       popularity | baseline | svd | svd-tuned | als | bpr | content (default: ${DEFAULT_RETRAINING_INPUT.algorithm})
  --dataset-prefix P     S3 prefix holding u.data (+ u.item) (default: ${DEFAULT_RETRAINING_INPUT.dataset_prefix})
  --max-regression R     allowed relative drop of nDCG@10, 0..1 (default: ${DEFAULT_RETRAINING_INPUT.max_regression})
  --data-dir DIR         local data directory (default: $ABREC_DATA_DIR or .abrec-data)
  --json                 print the execution result as one JSON line`,
  run: async (argv, io) => {
    const { values } = parseArgs({
      args: argv,
      options: {
        'model-id': { type: 'string' },
        algorithm: { type: 'string' },
        'dataset-prefix': { type: 'string' },
        'max-regression': { type: 'string' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    const maxRegression = Number(values['max-regression'] ?? DEFAULT_RETRAINING_INPUT.max_regression);
    if (!(maxRegression >= 0 && maxRegression <= 1)) throw new UsageError('--max-regression must be a number from 0 to 1');
    const input = {
      model_id: values['model-id'] ?? DEFAULT_RETRAINING_INPUT.model_id,
      algorithm: values.algorithm ?? DEFAULT_RETRAINING_INPUT.algorithm,
      dataset_prefix: values['dataset-prefix'] ?? DEFAULT_RETRAINING_INPUT.dataset_prefix,
      max_regression: maxRegression,
      run_id: `local-${new Date().toISOString()}`,
    };
    const run = await runLocalRetraining({
      dataDir: values['data-dir'] ?? io.env.ABREC_DATA_DIR ?? '.abrec-data',
      input,
      onEvent: (line) => io.stderr(`retrain: ${line}\n`),
    });
    if (values.json) io.stdout(`${JSON.stringify(run)}\n`);
    else io.stdout(`${run.status}: ${run.path.join(' -> ')}\n${JSON.stringify(run.output, null, 2)}\n`);
    return run.status === 'SUCCEEDED' ? 0 : 1;
  },
};

import { DEFAULT_EXPERIMENT_ID } from '../../lambdas/domain/experiments/defaults.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';
import { startLocalRuntime } from '../../local/runtime.ts';
import { runMainJob } from '../../simulator/main-job.ts';
import { formatSummary } from '../../simulator/summary.ts';
import { analysisOutput } from './analyze.ts';
import { numberOption, parseCommandArgs, UsageError, type CliCommand } from '../command.ts';
import { SIMULATE_DEFAULTS, simulationProgress } from './simulate.ts';

export const serveCommand: CliCommand = {
  path: ['serve'],
  summary: 'Run the whole product locally: dynalite, s3rver and the API on localhost',
  help: `Usage: abrec serve [--port N] [--data-dir DIR] [--no-simulate | --resimulate]
                   [--users N] [--days D] [--seed S]

Starts dynalite (DynamoDB) and s3rver (S3) on loopback with data under DIR, creates the
tables and bucket the CDK stack defines, uploads the default model artifacts, creates the
default experiment at first start and serves the Lambda handlers over HTTP, with the dashboard
at / and the stack's schedules (daily analysis, weekly retraining) on a virtual clock.

Then it runs the main job once: simulated users from the bundled ratings drive the default
experiment through the API for D days (each on its own day of the virtual clock, each day's
report written by the scheduled analysis), and it prints the results per variant, the
decision, the dashboard's address and the last report's path. A restart keeps the data and
does not simulate again unless asked.

Options:
  --port N         HTTP port (default: $PORT or 3000; 0 picks a free port)
  --data-dir DIR   where data persists (default: $ABREC_DATA_DIR or .abrec-data)
  --no-simulate    only serve
  --resimulate     simulate again (the days continue after the last simulated one)
  --users N        simulated users (default: all ${'600'} of the bundled data)
  --days D         simulated days (default: ${SIMULATE_DEFAULTS.days})
  --seed S         simulation seed (default: ${SIMULATE_DEFAULTS.seed})
  -h, --help       show this help

Environment:
  ABREC_API_KEY    public API key for /recommend and /events (generated and kept if unset)
  ABREC_ADMIN_KEY  admin key for /experiments (generated and kept if unset)

Ctrl-C stops everything; a restart keeps all data.

Example: abrec serve --no-simulate --port 3000    (then abrec experiments list in another terminal)`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'no-simulate': { type: 'boolean' },
      resimulate: { type: 'boolean' },
      users: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string' },
    });
    if (values['no-simulate'] && values.resimulate) throw new UsageError('--no-simulate and --resimulate contradict each other: give one');
    const workload = {
      users: values.users === undefined ? undefined : numberOption(values.users, '--users', 0, { integer: true, min: 1 }),
      days: numberOption(values.days, '--days', SIMULATE_DEFAULTS.days, { integer: true, min: 1 }),
      seed: numberOption(values.seed, '--seed', SIMULATE_DEFAULTS.seed, { integer: true }),
    };
    const portText = values.port ?? io.env.PORT ?? '3000';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${portText}"`);
    const dataDir = values['data-dir'] ?? io.env.ABREC_DATA_DIR ?? '.abrec-data';
    const started = Date.now();
    const runtime = await startLocalRuntime({
      dataDir,
      port,
      apiKey: io.env.ABREC_API_KEY || undefined,
      adminKey: io.env.ABREC_ADMIN_KEY || undefined,
      log: (line) => io.stderr(`abrec: ${line}\n`),
    });
    // Keys from the environment are never echoed (logs outlive terminals); generated or stored
    // ones are printed, since nothing else tells the user what they are.
    const shownKey = (variable: 'ABREC_API_KEY' | 'ABREC_ADMIN_KEY', header: string, key: string, generated: boolean) =>
      io.env[variable]
        ? { line: `(from ${variable})`, curl: `-H "${header}: $${variable}"` }
        : { line: `${key}${generated ? ' (generated)' : ''}`, curl: `-H '${header}: ${key}'` };
    const apiKeyShown = shownKey('ABREC_API_KEY', 'x-api-key', runtime.apiKey, runtime.generatedKeys.apiKey);
    const adminKeyShown = shownKey('ABREC_ADMIN_KEY', 'x-admin-key', runtime.adminKey, runtime.generatedKeys.adminKey);
    io.stdout(
      [
        `abrec is running at ${runtime.url} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
        `  data:       ${runtime.dataDir}`,
        `  DynamoDB:   ${runtime.servers.dynamoEndpoint} (dynalite)`,
        `  S3:         ${runtime.servers.s3Endpoint} (s3rver)`,
        `  API key:    ${apiKeyShown.line}`,
        `  admin key:  ${adminKeyShown.line}`,
        '',
        `  curl ${runtime.url}/health`,
        `  curl ${apiKeyShown.curl} '${runtime.url}/recommend?user_id=1&top_n=5'`,
        `  curl ${adminKeyShown.curl} ${runtime.url}/experiments`,
        `  dashboard:  ${runtime.url}/ (sign in with the admin key)`,
        '',
      ].join('\n'),
    );
    if (!values['no-simulate']) {
      try {
        const stopped = new Promise<'stopped'>((resolve) => {
          if (io.signal.aborted) resolve('stopped');
          io.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
        });
        const running = runMainJob({
          url: runtime.url,
          apiKey: runtime.apiKey,
          adminKey: runtime.adminKey,
          dataDir: runtime.dataDir,
          experimentId: DEFAULT_EXPERIMENT_ID,
          simulate: values.resimulate ? 'always' : 'auto',
          ...workload,
          ...simulationProgress(io, Boolean(process.stderr.isTTY)),
          log: (line) => io.stderr(`simulate: ${line}\n`),
        });
        const job = await Promise.race([running, stopped]);
        if (job === 'stopped') {
          running.catch(() => undefined);
          throw new Error('stopped by Ctrl-C');
        }
        const sim = job.simulation;
        io.stdout(
          [
            '',
            sim
              ? `${job.simulatedNow ? 'Simulated' : 'Recorded simulation:'} ${sim.users} users, ${sim.requests} requests, ${sim.events} events over ${sim.days} days (${sim.first_day} .. ${sim.last_day} on the virtual clock)`
              : 'No simulation yet (--resimulate runs one).',
            '',
            formatSummary(analysisOutput(job.analysis)),
            `dashboard:  ${runtime.url}/`,
            `report:     ${job.reportPath ?? '(none yet)'}`,
            `same numbers: npx abrec analyze --experiment ${DEFAULT_EXPERIMENT_ID} --json`,
            '',
          ].join('\n'),
        );
      } catch (error) {
        io.stderr(`abrec: the simulation did not finish: ${errorMessage(error)}\nabrec: still serving; \`abrec simulate\` can run it again.\n`);
      }
    }
    io.stdout('Press Ctrl-C to stop.\n');
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    io.stderr('abrec: stopping...\n');
    await runtime.stop();
    io.stderr('abrec: stopped\n');
    return 0;
  },
};

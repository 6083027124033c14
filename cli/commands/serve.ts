import { parseArgs } from 'node:util';
import { startLocalRuntime } from '../../local/runtime.ts';
import { UsageError, type CliCommand } from '../command.ts';

export const serveCommand: CliCommand = {
  path: ['serve'],
  summary: 'Run the whole product locally: dynalite, s3rver and the API on localhost',
  help: `Usage: abrec serve [--port N] [--data-dir DIR]

Starts dynalite (DynamoDB) and s3rver (S3) on loopback with data under DIR, creates the
tables and bucket the CDK stack defines, uploads the default model artifacts, creates the
default experiment at first start and serves the Lambda handlers over HTTP.

Options:
  --port N         HTTP port (default: $PORT or 3000; 0 picks a free port)
  --data-dir DIR   where data persists (default: $ABREC_DATA_DIR or .abrec-data)
  -h, --help       show this help

Environment:
  ABREC_API_KEY    public API key for /recommend and /events (generated and kept if unset)
  ABREC_ADMIN_KEY  admin key for /experiments (generated and kept if unset)

Ctrl-C stops everything; a restart keeps all data.`,
  run: async (argv, io) => {
    const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' } }, strict: true });
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
    io.stdout(
      [
        `abrec is running at ${runtime.url} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
        `  data:       ${runtime.dataDir}`,
        `  DynamoDB:   ${runtime.servers.dynamoEndpoint} (dynalite)`,
        `  S3:         ${runtime.servers.s3Endpoint} (s3rver)`,
        `  API key:    ${runtime.apiKey}${runtime.generatedKeys.apiKey ? ' (generated)' : ''}`,
        `  admin key:  ${runtime.adminKey}${runtime.generatedKeys.adminKey ? ' (generated)' : ''}`,
        '',
        `  curl ${runtime.url}/health`,
        `  curl -H 'x-api-key: ${runtime.apiKey}' '${runtime.url}/recommend?user_id=1&top_n=5'`,
        `  curl -H 'x-admin-key: ${runtime.adminKey}' ${runtime.url}/experiments`,
        '',
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
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

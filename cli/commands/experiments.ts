import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { adminRequest, resolveAdminTarget, type AdminResponse } from '../admin-client.ts';
import { UsageError, type CliCommand, type CliIO } from '../command.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';

const ACTIONS = ['list', 'get', 'create', 'patch', 'start', 'stop', 'schedule', 'follow', 'ramp', 'promote', 'results'] as const;
type Action = (typeof ACTIONS)[number];

/** Parses `control=0.3,treatment=0.7`. */
export function parseWeights(text: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [name, value] = part.split('=');
    const weight = Number(value);
    if (!name || value === undefined || !Number.isFinite(weight))
      throw new UsageError(`--weights must look like control=0.5,treatment=0.5 (bad part "${part}")`);
    weights[name.trim()] = weight;
  }
  return weights;
}

async function readJsonInput(source: string, io: CliIO): Promise<unknown> {
  const text = source === '-' ? await io.readStdin() : await readFile(source, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--file ${source} is not valid JSON: ${errorMessage(error)}`);
  }
}

/** The body of `patch`: --body JSON or --file FILE|-, exactly one, a JSON object. */
async function patchBody(values: { body?: string; file?: string }, io: CliIO): Promise<unknown> {
  if ((values.body === undefined) === (values.file === undefined))
    throw new UsageError('patch needs the fields to change as --body JSON or --file FILE|- (one of them)');
  let body: unknown;
  if (values.body !== undefined) {
    try {
      body = JSON.parse(values.body);
    } catch (error) {
      throw new UsageError(`--body is not valid JSON: ${errorMessage(error)}`);
    }
  } else {
    body = await readJsonInput(values.file!, io);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new UsageError('the patch body must be a JSON object of the fields to change, e.g. {"description": "..."}');
  return body;
}

export const experimentsCommand: CliCommand = {
  path: ['experiments'],
  summary: 'Administer experiments through the admin API (list, get, create, patch, start, stop, schedule, follow, ramp, promote, results)',
  help: `Usage: abrec experiments <action> [ID] [options]

Actions:
  list                              all experiments
  get ID                            one experiment
  create --file FILE|-              create from a JSON body (see POST /experiments)
  patch ID --body JSON | --file FILE|-
                                    change fields (PATCH /experiments/{id}): a draft any
                                    field but id and status; a started experiment only name,
                                    description, end_time, max_duration_days, guardrails,
                                    min_sample_size and follow_latest (weights: ramp)
  start ID | stop ID                lifecycle transitions
  schedule ID [--end-time ISO] [--max-duration-days N]
                                    when a draft or running experiment ends (PATCH); the
                                    analysis run after the end stops it, writes the final
                                    report and alerts the decision once (stop_reason and
                                    final_report show it in get)
  follow ID [--off]                 follow the latest published versions of every arm's model
                                    (PATCH follow_latest: true), or stay pinned (--off); a
                                    retraining run that publishes every arm's model switches
                                    them together (model_history in get)
  ramp ID --weights a=0.3,b=0.7     explicit weight change of a running experiment
  promote ID [--winner V] [--force] promote the winner (refused unless significant without SRM)
  results ID                        current results from the counters

Options:
  --url URL          service base URL (default: $ABREC_URL or http://127.0.0.1:$PORT|3000)
  --admin-key KEY    admin key (default: $ABREC_ADMIN_KEY or the local data directory's key)
  --data-dir DIR     local data directory holding keys.json (default: .abrec-data)
  --revision N       expected revision (optimistic concurrency)
  --body JSON        patch: the fields to change, as a JSON object
  --json             accepted for consistency: the output is always the JSON response
  --file FILE|-      create, patch: the JSON body from a file or standard input

Needs a running service: start the local one with \`abrec serve\` in another terminal (or pass
--url of a deployed API).

Prints the JSON response; exits 1 on a 4xx/5xx answer.

Examples:
  abrec experiments list
  abrec experiments patch default --body '{"description": "ALS against the popularity baseline"}'
  abrec experiments ramp default --weights control=0.3,treatment=0.7`,
  run: async (argv, io) => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'admin-key': { type: 'string' },
        'data-dir': { type: 'string' },
        file: { type: 'string' },
        body: { type: 'string' },
        // Every answer is printed as JSON; the flag is accepted as on every other command.
        json: { type: 'boolean' },
        weights: { type: 'string' },
        winner: { type: 'string' },
        force: { type: 'boolean' },
        off: { type: 'boolean' },
        revision: { type: 'string' },
        'end-time': { type: 'string' },
        'max-duration-days': { type: 'string' },
      },
      strict: true,
    });
    const [action, id] = positionals as [Action | undefined, string | undefined];
    if (!action || !ACTIONS.includes(action)) throw new UsageError(`action must be one of ${ACTIONS.join(', ')}`);
    if (!['list', 'create'].includes(action) && !id) throw new UsageError(`${action} needs an experiment ID`);
    const revision = values.revision === undefined ? undefined : Number(values.revision);
    if (revision !== undefined && !Number.isInteger(revision)) throw new UsageError('--revision must be an integer');
    const target = await resolveAdminTarget({ url: values.url, adminKey: values['admin-key'], dataDir: values['data-dir'] }, io.env);
    const path = `/experiments/${encodeURIComponent(id ?? '')}`;
    const transition = revision === undefined ? {} : { expected_revision: revision };
    let response: AdminResponse;
    switch (action) {
      case 'list':
        response = await adminRequest(target, 'GET', '/experiments');
        break;
      case 'get':
        response = await adminRequest(target, 'GET', path);
        break;
      case 'results':
        response = await adminRequest(target, 'GET', `${path}/results`);
        break;
      case 'create':
        if (!values.file) throw new UsageError('create needs --file FILE (or - for standard input)');
        response = await adminRequest(target, 'POST', '/experiments', await readJsonInput(values.file, io));
        break;
      case 'patch':
        response = await adminRequest(target, 'PATCH', path, await patchBody(values, io));
        break;
      case 'start':
      case 'stop':
        response = await adminRequest(target, 'POST', `${path}/${action}`, transition);
        break;
      case 'schedule': {
        const endTime = values['end-time'];
        const maxDays = values['max-duration-days'];
        if (endTime === undefined && maxDays === undefined) throw new UsageError('schedule needs --end-time ISO and/or --max-duration-days N');
        if (maxDays !== undefined && !/^[0-9]+$/.test(maxDays)) throw new UsageError('--max-duration-days must be a whole number of days');
        const body = { ...(endTime === undefined ? {} : { end_time: endTime }), ...(maxDays === undefined ? {} : { max_duration_days: Number(maxDays) }) };
        response = await adminRequest(target, 'PATCH', path, body);
        break;
      }
      case 'follow':
        response = await adminRequest(target, 'PATCH', path, { follow_latest: values.off !== true });
        break;
      case 'ramp':
        if (!values.weights) throw new UsageError('ramp needs --weights name=weight,...');
        response = await adminRequest(target, 'POST', `${path}/ramp`, { weights: parseWeights(values.weights), ...transition });
        break;
      case 'promote':
        response = await adminRequest(target, 'POST', `${path}/promote`, {
          ...(values.winner ? { winner: values.winner } : {}),
          ...(values.force ? { force: true } : {}),
          ...transition,
        });
        break;
    }
    io.stdout(`${JSON.stringify(response.body)}\n`);
    if (response.status >= 400) {
      io.stderr(`abrec experiments ${action}: HTTP ${response.status}\n`);
      return 1;
    }
    return 0;
  },
};

/**
 * Runs the retraining workflow locally: the state machine definition is taken from the
 * synthesized CDK stack (not a copy) and executed by aws-local-stepfunctions, with each
 * LambdaInvoke task pointed at the same handler module Lambda runs and each SNS publish task
 * (Notify, NotifyFailure) handed to `notify` (the local runtime appends it to a file, see
 * notifications.ts).
 */
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { AbrecStack } from '../lib/abrec-stack.ts';
import { toError } from '../lambdas/domain/assert-error.ts';
import { FUNCTIONS, type FunctionName } from '../lib/resources.ts';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Logical-id prefix of each retraining function, as the stack names them. */
const TASK_FUNCTIONS: Record<string, FunctionName> = {
  Snapshot: 'retrainSnapshot',
  Train: 'retrainTrain',
  Evaluate: 'retrainEvaluate',
  Publish: 'retrainPublish',
  SwitchFollowers: 'retrainSwitch',
  RestorePointers: 'retrainRestore',
};

/** The SNS publish tasks of the definition. */
const NOTIFY_STATES = ['Notify', 'NotifyFailure'] as const;

/** What an SNS publish task sends: its Parameters after the state's input has filled them in. */
export interface LocalNotification {
  state: string;
  subject: string;
  message: string;
}

/** Joins an Fn::Join of strings and tokens, turning `Fn::GetAtt [X, 'Arn']` into a placeholder ARN. */
function resolveJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(resolveJoin).join(join[0]);
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) return `arn:aws:lambda:us-east-1:000000000000:function:${getAtt[0]}`;
  const ref = (value as { Ref?: string }).Ref;
  if (ref) return ref === 'AWS::Partition' ? 'aws' : ref === 'AWS::Region' ? 'us-east-1' : ref === 'AWS::AccountId' ? '000000000000' : ref;
  throw new Error(`unexpected token in state machine definition: ${JSON.stringify(value)}`);
}

/** The retraining state machine's Amazon States Language, synthesized from the stack without bundling. */
export function synthesizeRetrainingDefinition(): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new AbrecStack(app, 'AbrecStack');
  const template = app.synth().getStackByName('AbrecStack').template as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the stack, found ${machines.length}`);
  return JSON.parse(resolveJoin(machines[0].Properties.DefinitionString)) as Record<string, unknown>;
}

/** A state's name in the path: inside the Map, with the model of its iteration (`Train(als)`). */
function stateLabel(name: string, index: number | undefined, input: unknown): string {
  if (index === undefined) return name;
  const modelId = (input as { model_id?: unknown } | null)?.model_id;
  return `${name}(${typeof modelId === 'string' ? modelId : index})`;
}

export interface RetrainingRun {
  status: 'SUCCEEDED' | 'FAILED';
  output: Json;
  /** States in the order they were entered. */
  path: string[];
}

/**
 * Executes the definition with the given input. `invoke` runs one function's handler;
 * `onEvent` receives a line per state transition (progress for long runs).
 */
export async function runRetrainingLocally({
  definition,
  input,
  invoke,
  notify = async () => {},
  onEvent = () => {},
  retryIntervalMs,
}: {
  definition: Record<string, unknown>;
  input: Record<string, Json>;
  invoke: (name: FunctionName, event: unknown) => Promise<unknown>;
  /** Receives each SNS publish of the run. @default drops it */
  notify?: (notification: LocalNotification) => Promise<void>;
  onEvent?: (line: string) => void;
  /** Replaces every Retry interval (tests: 0, so a retried step does not sleep). @default the definition's */
  retryIntervalMs?: number;
}): Promise<RetrainingRun> {
  const machine = new StateMachine(definition as unknown as ConstructorParameters<typeof StateMachine>[0], { validationOptions: { checkArn: false } });
  const taskResourceLocalHandlers: Record<string, (event: Json) => Promise<Json>> = Object.fromEntries(
    Object.entries(TASK_FUNCTIONS).map(([state, fn]) => [state, async (event: Json) => (await invoke(fn, event)) as Json]),
  );
  for (const state of NOTIFY_STATES) {
    taskResourceLocalHandlers[state] = async (event: Json) => {
      const { Subject, Message } = event as { Subject?: string; Message?: Json };
      await notify({ state, subject: Subject ?? '', message: typeof Message === 'string' ? Message : JSON.stringify(Message) });
      return { MessageId: `local-${Date.now()}` };
    };
  }
  const retryIntervalOverrides =
    retryIntervalMs === undefined ? undefined : Object.fromEntries([...Object.keys(TASK_FUNCTIONS), ...NOTIFY_STATES].map((state) => [state, retryIntervalMs]));
  const execution = machine.run(input, { overrides: { taskResourceLocalHandlers, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) } });
  const path: string[] = [];
  const started = Date.now();
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (event.type === 'StateEntered') {
        const name = stateLabel(event.state.name, event.index, event.state.input);
        path.push(name);
        const fn = TASK_FUNCTIONS[event.state.name];
        onEvent(`[${seconds} s] entered ${name}${fn ? ` (${FUNCTIONS[fn].description})` : ''}`);
      } else if (event.type === 'StateRetried' || event.type === 'StateFailed' || event.type === 'StateCaught') {
        const detail =
          event.type === 'StateFailed'
            ? `: ${event.Error} ${typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? '')}`.trimEnd()
            : event.type === 'StateRetried'
              ? ` (retry ${event.retry.attempt})`
              : '';
        onEvent(`[${seconds} s] ${event.type} ${stateLabel(event.state.name, event.index, event.state.input)}${detail}`);
      }
    }
  })();
  try {
    const output = (await execution.result) as Json;
    await logs;
    return { status: 'SUCCEEDED', output, path };
  } catch (error) {
    await logs.catch(() => undefined);
    const failure = toError(error);
    return { status: 'FAILED', output: { error: failure.name, cause: failure.message }, path };
  }
}

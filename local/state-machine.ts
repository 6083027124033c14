/**
 * Runs the retraining workflow locally: the state machine definition is taken from the
 * synthesized CDK stack (not a copy) and executed by aws-local-stepfunctions, with each
 * LambdaInvoke task pointed at the same handler module Lambda runs.
 */
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { AbrecStack } from '../lib/abrec-stack.ts';
import { FUNCTIONS, type FunctionName } from '../lib/resources.ts';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Logical-id prefix of each retraining function, as the stack names them. */
const TASK_FUNCTIONS: Record<string, FunctionName> = { Train: 'retrainTrain', Evaluate: 'retrainEvaluate', Publish: 'retrainPublish' };

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
  onEvent = () => {},
}: {
  definition: Record<string, unknown>;
  input: Record<string, Json>;
  invoke: (name: FunctionName, event: unknown) => Promise<unknown>;
  onEvent?: (line: string) => void;
}): Promise<RetrainingRun> {
  const machine = new StateMachine(definition as unknown as ConstructorParameters<typeof StateMachine>[0], { validationOptions: { checkArn: false } });
  const taskResourceLocalHandlers = Object.fromEntries(
    Object.entries(TASK_FUNCTIONS).map(([state, fn]) => [state, async (event: Json) => (await invoke(fn, event)) as Json]),
  );
  const execution = machine.run(input, { overrides: { taskResourceLocalHandlers } });
  const path: string[] = [];
  const started = Date.now();
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (event.type === 'StateEntered') {
        path.push(event.state.name);
        onEvent(`[${seconds} s] entered ${event.state.name}${FUNCTIONS[TASK_FUNCTIONS[event.state.name]] ? ` (${FUNCTIONS[TASK_FUNCTIONS[event.state.name]].description})` : ''}`);
      } else if (event.type === 'StateRetried' || event.type === 'StateFailed' || event.type === 'StateCaught') {
        onEvent(`[${seconds} s] ${event.type} ${event.state.name}`);
      }
    }
  })();
  try {
    const output = (await execution.result) as Json;
    await logs;
    return { status: 'SUCCEEDED', output, path };
  } catch (error) {
    await logs.catch(() => undefined);
    return { status: 'FAILED', output: { error: (error as Error).name, cause: (error as Error).message }, path };
  }
}

/**
 * The experiment the local runtime creates at first start, so `GET /recommend` works with
 * no set-up: a 50/50 A/B test of a baseline (content-based or popularity) against the
 * factor model, on click-through.
 */
import type { Experiment } from './model.ts';
import { createExperiment } from './lifecycle.ts';

/** Id of the default experiment. */
export const DEFAULT_EXPERIMENT_ID = 'default';

/** A pinned model version. */
export interface ModelRef {
  model_id: string;
  model_version: string;
}

/**
 * The running default experiment: `control` serves `controlModel` (the content-based or
 * popularity model), `treatment` serves `treatmentModel` (the factor model), half the
 * traffic each. `now` (default: the current time) sets created_at and start_time.
 */
export function defaultExperiment({
  controlModel,
  treatmentModel,
  now = new Date(),
}: {
  controlModel: ModelRef;
  treatmentModel: ModelRef;
  now?: Date;
}): Experiment {
  return createExperiment({
    now,
    request: {
      id: DEFAULT_EXPERIMENT_ID,
      name: 'Baseline vs factor model',
      description: 'Created by the local runtime at first start.',
      status: 'running',
      mode: 'ab',
      salt: DEFAULT_EXPERIMENT_ID,
      variants: [
        { name: 'control', ...controlModel, weight: 0.5, active: true, is_control: true },
        { name: 'treatment', ...treatmentModel, weight: 0.5, active: true, is_control: false },
      ],
      target_metric: { kind: 'click_through' },
      // A guardrail the report checks (latency is watched by the CloudWatch alarms, not by reports).
      guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }],
      // The bundled data set has 600 users, about 290 per arm over the simulated fortnight of
      // `npm start`: the floor must be reachable for the main job to end in a decision.
      min_sample_size: 250,
      confidence_level: 0.95,
      analysis_method: 'frequentist',
    },
  });
}

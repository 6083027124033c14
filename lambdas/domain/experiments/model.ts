/**
 * The experiment model: zod 4 schemas that validate admin API requests and give the types.
 * JSON field names are snake_case, exactly as on the wire and in storage, so an experiment
 * read from DynamoDB and one parsed from a request are the same type.
 *
 * Weight convention: variant weights are fractions that must sum to 1 (within
 * {@link WEIGHT_SUM_TOLERANCE}); inactive variants must have weight 0.
 */
import { z } from 'zod';
import type { FieldError } from './errors.ts';
import { ExperimentValidationError } from './errors.ts';
import { BUCKET_COUNT } from './hash.ts';
import { capsSchema } from './caps.ts';
import { declaredSegmentsSchema } from './user-segments.ts';

/** Weights must sum to 1 within this absolute tolerance (floating-point slack, not a loophole). */
export const WEIGHT_SUM_TOLERANCE = 1e-9;

/** Salts starting with this prefix are reserved for internal hashes (layers, bandit draws). */
export const RESERVED_SALT_PREFIX = '__';

/** Experiment and layer ids: lower-case slugs, so they are safe in URLs and storage keys. */
const SLUG = /^[a-z0-9_-]+$/;

export const experimentStatuses = ['draft', 'running', 'stopped', 'completed'] as const;
/** draft → running → stopped; running or stopped → completed (by promotion). */
export type ExperimentStatus = (typeof experimentStatuses)[number];

export const analysisMethods = ['frequentist', 'bayesian', 'sequential'] as const;
export type AnalysisMethod = (typeof analysisMethods)[number];

export const experimentModes = ['ab', 'bandit', 'interleaving'] as const;
/** 'ab': fixed weights; 'bandit': Thompson sampling; 'interleaving': team-draft of two lists. */
export type ExperimentMode = (typeof experimentModes)[number];

export const metricKinds = ['click_through', 'conversion', 'watch_time', 'rating'] as const;
export type MetricKind = (typeof metricKinds)[number];

/** Metrics whose per-user outcome is 0/1, the only ones a Beta-Bernoulli bandit can model. */
export const binaryMetricKinds: readonly MetricKind[] = ['click_through', 'conversion'];

const slug = (what: string) =>
  z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').regex(SLUG, `must be a ${what} of a-z, 0-9, '-' and '_'`);

const nonEmptyText = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

/**
 * A number the experiments table can hold: DynamoDB refuses magnitudes below 1e-130 (and above
 * 1e125), and the document client refuses integers past 2^53, so a weight of 1e-200 or a rating
 * bound of 1e300 failed the put with a 500. Every number an experiment stores is one of these.
 */
export const storableNumber = () =>
  z.number().refine((n) => n === 0 || (Math.abs(n) >= 1e-130 && Math.abs(n) <= Number.MAX_SAFE_INTEGER), 'must be 0 or of magnitude 1e-130 to 2^53');

const isoDateTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z' });

/** Longest schedule an experiment may ask for (`max_duration_days`). */
export const MAX_DURATION_DAYS_LIMIT = 365;
/**
 * `max_duration_days` of an experiment created without one: a forgotten test stops by itself.
 * Stored on creation, so `GET /experiments/{id}` shows it; experiments stored before the field
 * existed have no maximum until one is patched in.
 */
export const DEFAULT_MAX_DURATION_DAYS = 90;

/** Why an experiment was stopped: by an operator (`POST /stop`), or by its schedule. */
export const stopReasons = ['manual', 'schedule: end_time reached', 'max duration reached'] as const;
export type StopReason = (typeof stopReasons)[number];
/** The stop reasons of the schedule: the ones that come with a final report. */
export type ScheduleEndReason = Exclude<StopReason, 'manual'>;

/**
 * The final report of an experiment its schedule stopped, and its alert: 'pending' while the run
 * that stopped it sends it (that run alone: the stop is a conditional write), 'sent', or 'failed'
 * (the next run writes the report and sends it again).
 */
export const finalReportSchema = z.strictObject({
  /** UTC day of the report: the day the experiment ended in, counters through its end. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD'),
  decision: z.string().optional(),
  winner: z.string().nullable().optional(),
  alert: z.enum(['pending', 'sent', 'failed']),
  alerted_at: isoDateTime.optional(),
});
export type FinalReport = z.output<typeof finalReportSchema>;

/** One deployment slot: a pinned model version and its share of traffic. */
export const variantSchema = z.strictObject({
  // Weights are keyed by variant name (ramp, weight_history), and no object keeps a `__proto__` key: it would be dropped.
  name: slug('name').refine((name) => name !== '__proto__', "must not be '__proto__'"),
  model_id: nonEmptyText(128),
  /** Pinned version; the API checks it exists in the artifact store. */
  model_version: nonEmptyText(128),
  /** Fraction of traffic in [0, 1]; all weights of an experiment sum to 1. */
  weight: storableNumber().min(0, 'must be >= 0').max(1, 'must be <= 1'),
  active: z.boolean().default(true),
  is_control: z.boolean().default(false),
});
export type Variant = z.output<typeof variantSchema>;
export type VariantInput = z.input<typeof variantSchema>;

/** What the experiment tries to improve. Binary metrics are per-exposure rates. */
export const targetMetricSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('click_through'),
    /** Event type counted as a success. */
    event_type: nonEmptyText(64).default('click'),
  }),
  z.strictObject({
    kind: z.literal('conversion'),
    event_type: nonEmptyText(64).default('conversion'),
  }),
  z.strictObject({
    kind: z.literal('watch_time'),
    /** Per-user values are capped here before averaging, so one binge does not dominate. */
    cap_seconds: storableNumber().positive('must be > 0').optional(),
  }),
  z.strictObject({
    kind: z.literal('rating'),
    min: storableNumber().default(0.5),
    max: storableNumber().default(5),
  }),
]);
export type TargetMetric = z.output<typeof targetMetricSchema>;

export const guardrailMetrics = [...metricKinds, 'latency_p95_ms', 'error_rate'] as const;
export type GuardrailMetric = (typeof guardrailMetrics)[number];

/** A metric that must not degrade by more than `max_relative_degradation` in any treatment. */
export const guardrailSchema = z.strictObject({
  metric: z.enum(guardrailMetrics),
  max_relative_degradation: storableNumber().gt(0, 'must be > 0').max(1, 'must be <= 1').default(0.05),
});
export type Guardrail = z.output<typeof guardrailSchema>;

/**
 * The guardrail metrics the daily counters measure. A new guardrail can watch only these: the
 * report checks each on its own metric (any number of them); latency and errors are watched by
 * the CloudWatch dashboard and alarms, never by a report, so the API refuses them rather than
 * accept a guardrail that is never checked.
 */
export const measuredGuardrailMetrics: readonly GuardrailMetric[] = metricKinds;

/**
 * A guardrail as `POST /experiments` and `PATCH /experiments/{id}` accept it: a measured metric
 * (400 naming `guardrails[i].metric` otherwise) and a limit below 100%, which a drop can exceed.
 * Stored experiments are read with {@link guardrailSchema}, so one saved before this rule still
 * loads, and its reports name the guardrails they cannot check.
 */
export const guardrailRequestSchema = guardrailSchema
  .extend({
    metric: guardrailSchema.shape.metric.refine((metric) => measuredGuardrailMetrics.includes(metric), {
      message: `is not measured by the daily counters, so no report could check it (latency and errors are on the CloudWatch dashboard and alarms); must be one of ${measuredGuardrailMetrics.join(', ')}`,
    }),
  })
  .superRefine((guardrail, ctx) => {
    if (guardrail.max_relative_degradation >= 1) {
      ctx.addIssue({ code: 'custom', path: ['max_relative_degradation'], message: 'must be < 1: a degradation of 100% can never be exceeded' });
    }
  });

/**
 * Mutual-exclusion layer as requested: either an explicit bucket range [bucket_start,
 * bucket_end) of the layer hash (0..10000), or a `share` that creation turns into the first
 * free range.
 */
export const layerRequestSchema = z
  .strictObject({
    name: slug('layer name'),
    bucket_start: z
      .int('must be an integer')
      .min(0, 'must be >= 0')
      .max(BUCKET_COUNT - 1, `must be < ${BUCKET_COUNT}`)
      .optional(),
    bucket_end: z.int('must be an integer').min(1, 'must be >= 1').max(BUCKET_COUNT, `must be <= ${BUCKET_COUNT}`).optional(),
    share: z.number().gt(0, 'must be > 0').max(1, 'must be <= 1').optional(),
  })
  .superRefine((layer, ctx) => {
    const hasRange = layer.bucket_start !== undefined || layer.bucket_end !== undefined;
    if (hasRange && layer.share !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['share'], message: 'give either share or bucket_start/bucket_end, not both' });
    } else if (!hasRange && layer.share === undefined) {
      ctx.addIssue({ code: 'custom', path: ['share'], message: 'give either share or bucket_start/bucket_end' });
    } else if (hasRange && (layer.bucket_start === undefined || layer.bucket_end === undefined)) {
      const missing = layer.bucket_start === undefined ? 'bucket_start' : 'bucket_end';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'is required with a bucket range' });
    } else if (hasRange && layer.bucket_end! <= layer.bucket_start!) {
      ctx.addIssue({ code: 'custom', path: ['bucket_end'], message: 'must be > bucket_start' });
    }
  });
export type LayerRequest = z.output<typeof layerRequestSchema>;

/** A layer with its resolved range, as stored: users whose layer bucket is in [start, end). */
export const layerSchema = z.strictObject({
  name: slug('layer name'),
  bucket_start: z
    .int('must be an integer')
    .min(0, 'must be >= 0')
    .max(BUCKET_COUNT - 1, `must be < ${BUCKET_COUNT}`),
  bucket_end: z.int('must be an integer').min(1, 'must be >= 1').max(BUCKET_COUNT, `must be <= ${BUCKET_COUNT}`),
});
export type Layer = z.output<typeof layerSchema>;

/** Bandit settings: every active arm keeps at least `min_share` of traffic. */
export const banditSettingsSchema = z.strictObject({
  min_share: storableNumber().min(0, 'must be >= 0').max(0.5, 'must be <= 0.5').default(0.05),
});
export type BanditSettings = z.output<typeof banditSettingsSchema>;

const salt = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .refine((s) => !s.startsWith(RESERVED_SALT_PREFIX), `must not start with '${RESERVED_SALT_PREFIX}' (reserved)`);

const experimentFields = {
  id: slug('slug'),
  name: nonEmptyText(200),
  description: z.string().max(2000, 'must be at most 2000 characters').optional(),
  status: z.enum(experimentStatuses).default('draft'),
  variants: z.array(variantSchema).min(2, 'must have at least 2 variants').max(20, 'must have at most 20 variants'),
  target_metric: targetMetricSchema,
  guardrails: z.array(guardrailSchema).max(20, 'must have at most 20 guardrails').default([]),
  /** Minimum exposed users per variant before the analysis may call a result. */
  min_sample_size: z.int('must be an integer').min(1, 'must be >= 1').default(1000),
  /**
   * Relative minimum detectable effect the test is powered for (0.1 = a 10 % lift); it sets the
   * required sample size and the mSPRT mixture. Defaults to 0.1 in the analysis when absent.
   */
  minimum_detectable_effect: storableNumber().gt(0, 'must be > 0').max(10, 'must be <= 10').optional(),
  confidence_level: z.number().gt(0.5, 'must be > 0.5').lt(1, 'must be < 1').default(0.95),
  analysis_method: z.enum(analysisMethods).default('frequentist'),
  mode: z.enum(experimentModes).default('ab'),
  start_time: isoDateTime.optional(),
  /**
   * When the experiment ends (ISO 8601, after `start_time`); none by default. A running
   * experiment ends at the earlier of this and `max_duration_days` after its start: serving
   * then treats it as stopped, and the next analysis run stops it and writes the final report.
   */
  end_time: isoDateTime.optional(),
  /** Longest run in days, counted from `start_time` (1..365); {@link DEFAULT_MAX_DURATION_DAYS} when created without one. */
  max_duration_days: z.int('must be an integer').min(1, 'must be >= 1').max(MAX_DURATION_DAYS_LIMIT, `must be <= ${MAX_DURATION_DAYS_LIMIT}`).optional(),
  /** Fraction of (non-holdout) users who enter the experiment at all. */
  traffic_coverage: storableNumber().gt(0, 'must be > 0').max(1, 'must be <= 1').default(1),
  /** Fraction of users kept on the control and out of the analysis, for long-term comparison. */
  holdout_share: storableNumber().min(0, 'must be >= 0').lt(1, 'must be < 1').default(0),
  bandit: banditSettingsSchema.optional(),
  /**
   * Per-user caps of the analysed counts and values (caps.ts); every field optional, defaults
   * DEFAULT_CAPS. Fixed once the experiment has started: the capped sums are accumulated as
   * events are written.
   */
  caps: capsSchema.prefault({}),
  /**
   * Client segments a report breaks results down by (user-segments.ts): at most 8 values the
   * client may send as `GET /recommend?segment=`, fixed per user at the first exposure.
   */
  segments: declaredSegmentsSchema.optional(),
  /**
   * Whether the experiment follows the latest published version of each arm's model (false or
   * absent: pinned). A following experiment switches all of its arms together when the
   * retraining run publishes every arm's model, and records the switch in `model_history`.
   */
  follow_latest: z.boolean('must be a boolean (true to follow the latest published versions, false to stay pinned)').optional(),
};

/** The versions an experiment serves, by variant name. */
export const armVersionsSchema = z.record(z.string(), z.strictObject({ model_id: z.string(), model_version: z.string() }));
export type ArmVersions = z.output<typeof armVersionsSchema>;

/**
 * One entry of an experiment's model history: the versions every arm served from `at` on. The
 * first entry is written when a following experiment starts (or when a running one starts
 * following), with no `run_id`; each switch by a retraining run appends one with the run's id.
 */
export const modelHistoryEntrySchema = z.strictObject({
  at: isoDateTime,
  run_id: z.string().optional(),
  versions: armVersionsSchema,
});
export type ModelHistoryEntry = z.output<typeof modelHistoryEntrySchema>;

/** Fields of a create request, also the base of partial edits. */
export function createExperimentFields() {
  return {
    ...experimentFields,
    guardrails: z.array(guardrailRequestSchema).max(20, 'must have at most 20 guardrails').default([]),
    salt: salt.optional(),
    layer: layerRequestSchema.optional(),
  };
}

/**
 * Body of `POST /experiments`. `salt` defaults to the id; `layer` may give a share instead
 * of a range. Creation accepts status 'draft' (default) or 'running'.
 */
export const createExperimentRequestSchema = z.strictObject(createExperimentFields()).superRefine((experiment, ctx) => {
  // The salt defaults to the id, and salts with the reserved prefix are refused: name the id the client sent, not a salt it did not.
  if (experiment.salt === undefined && typeof experiment.id === 'string' && experiment.id.startsWith(RESERVED_SALT_PREFIX)) {
    ctx.addIssue({ code: 'custom', path: ['id'], message: `must not start with '${RESERVED_SALT_PREFIX}' (reserved) unless a salt is given` });
  }
  checkConsistency(experiment, ctx);
});
export type CreateExperimentRequest = z.output<typeof createExperimentRequestSchema>;
/** What a client may send (defaults not yet applied). */
export type CreateExperimentInput = z.input<typeof createExperimentRequestSchema>;

/**
 * A stored experiment. `revision` starts at 0 and grows by one on every change: storage
 * writes conditionally on the revision it read, which is the optimistic-concurrency guard.
 */
export const experimentSchema = z
  .strictObject({
    ...experimentFields,
    salt,
    layer: layerSchema.optional(),
    hash_version: z.literal('v1'),
    revision: z.int('must be an integer').min(0, 'must be >= 0'),
    created_at: isoDateTime,
    updated_at: isoDateTime,
    /** Name of the promoted variant once completed. */
    winner: z.string().optional(),
    /**
     * The split over time, appended by every ramp: the weights by variant in effect from each
     * instant. The sample ratio check compares exposures against this history, not against the
     * current weights alone, so a ramp mid-test is not mistaken for a broken split.
     */
    weight_history: z.array(z.strictObject({ effective_from: isoDateTime, weights: z.record(z.string(), z.number().min(0).max(1)) })).optional(),
    /** Why it was stopped (set by every stop); `end_time` is then when it ended. */
    stop_reason: z.enum(stopReasons).optional(),
    /** Set when the schedule stopped it. */
    final_report: finalReportSchema.optional(),
    /** The versions served over time (read-only: written by start and by retraining switches). */
    model_history: z.array(modelHistoryEntrySchema).optional(),
  })
  .superRefine((experiment, ctx) => checkConsistency(experiment, ctx));
export type Experiment = z.output<typeof experimentSchema>;

type ConsistencyInput = Pick<
  z.output<z.ZodObject<typeof experimentFields>>,
  'status' | 'variants' | 'mode' | 'target_metric' | 'bandit' | 'start_time' | 'end_time'
>;

/** Rules that span several fields; each issue names the field an operator has to fix. */
function checkConsistency(experiment: ConsistencyInput, ctx: z.RefinementCtx): void {
  const { variants } = experiment;

  const seen = new Set<string>();
  variants.forEach((variant, i) => {
    if (seen.has(variant.name)) {
      ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant name '${variant.name}'` });
    }
    seen.add(variant.name);
    if (!variant.active && variant.weight !== 0) {
      ctx.addIssue({ code: 'custom', path: ['variants', i, 'weight'], message: 'must be 0 when the variant is inactive' });
    }
  });

  if (!Array.isArray(variants)) return;
  const controls = variants.filter((v) => v.is_control).length;
  if (controls !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['variants'],
      message: `exactly one variant must have is_control: true, found ${controls}`,
    });
  }
  const control = variants.find((v) => v.is_control);
  if (controls === 1 && !control!.active && experiment.status !== 'completed') {
    const i = variants.indexOf(control!);
    ctx.addIssue({ code: 'custom', path: ['variants', i, 'active'], message: 'the control must be active' });
  }

  // zod still runs this check when a field failed; a sum over invalid weights would only
  // add a misleading second error.
  const weightsValid = variants.every((v) => typeof v.weight === 'number' && Number.isFinite(v.weight) && v.weight >= 0);
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (!weightsValid) {
    // already reported per variant
  } else if (total === 0) {
    ctx.addIssue({ code: 'custom', path: ['variants'], message: 'weights must not all be 0' });
  } else if (Math.abs(total - 1) > WEIGHT_SUM_TOLERANCE) {
    ctx.addIssue({
      code: 'custom',
      path: ['variants'],
      message: `weights must sum to 1 (±${WEIGHT_SUM_TOLERANCE}), got ${total}`,
    });
  }

  const active = variants.filter((v) => v.active).length;
  if (experiment.mode === 'interleaving' && experiment.status !== 'completed' && active !== 2) {
    ctx.addIssue({ code: 'custom', path: ['variants'], message: `interleaving needs exactly 2 active variants, found ${active}` });
  }
  if (experiment.mode === 'bandit') {
    if (!binaryMetricKinds.includes(experiment.target_metric.kind)) {
      ctx.addIssue({
        code: 'custom',
        path: ['target_metric', 'kind'],
        message: `bandit mode needs a binary metric (${binaryMetricKinds.join(' or ')}), got ${experiment.target_metric.kind}`,
      });
    }
    const minShare = experiment.bandit?.min_share ?? 0;
    if (minShare * active > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['bandit', 'min_share'],
        message: `must be <= 1 / ${active} active arms`,
      });
    }
  }

  // Equal is allowed here only for a stop at the instant of the start; requests are held to
  // strictly after by scheduleProblems (schedule.ts), which knows which fields were sent.
  if (experiment.start_time && experiment.end_time && Date.parse(experiment.end_time) < Date.parse(experiment.start_time)) {
    ctx.addIssue({ code: 'custom', path: ['end_time'], message: 'must be after start_time' });
  }
}

/** Renders a zod path as the API names fields: `variants[1].weight`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  // The whole body, named as every other route names it (http.ts, errors.ts).
  return out === '' ? 'body' : out;
}

/** The value at a zod path inside the raw input, to tell "missing" from "wrong type". */
function valueAt(input: unknown, path: readonly PropertyKey[]): { found: boolean; value?: unknown } {
  let current: unknown = input;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !(segment in current)) return { found: false };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { found: current !== undefined, value: current };
}

/** Plain-language wording for zod's built-in issues. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): FieldError[] {
  const field = formatFieldPath(issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const { found, value } = valueAt(input, issue.path);
      if (!found) return [{ field, message: 'is required' }];
      if (typeof value === 'number' && !Number.isFinite(value)) {
        return [{ field, message: `must be a finite number, got ${String(value)}` }];
      }
      const expected =
        issue.expected === 'int' ? 'an integer' : issue.expected === 'array' || issue.expected === 'object' ? `an ${issue.expected}` : `a ${issue.expected}`;
      return [{ field, message: `must be ${expected}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key]), message: 'is not a known field' }));
    case 'invalid_value':
      return [{ field, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` }];
    case 'invalid_union': {
      // zod 4 reports the allowed discriminator values on the issue without typing them.
      const options = (issue as { options?: unknown[] }).options;
      if (issue.discriminator && options) {
        return [{ field, message: `must be one of ${options.map((v) => JSON.stringify(v)).join(', ')}` }];
      }
      return [{ field, message: issue.message }];
    }
    default:
      return [{ field, message: issue.message }];
  }
}

/**
 * Turns a zod error into the API's list of `{ field, message }`, e.g.
 * `{ field: 'variants[1].weight', message: 'must be >= 0' }`. Pass the parsed `input` so
 * a missing field ("is required") can be told from a wrong value such as NaN.
 */
export function zodErrorToFieldErrors(error: z.ZodError, input?: unknown): FieldError[] {
  return error.issues.flatMap((issue) => describeIssue(issue, input));
}

/** Parses with a schema, or throws an {@link ExperimentValidationError} naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ExperimentValidationError(zodErrorToFieldErrors(result.error, input));
  return result.data;
}

/** Validates a create request body (400 on failure). */
export function parseCreateExperimentRequest(input: unknown): CreateExperimentRequest {
  return parseOrThrow(createExperimentRequestSchema, input);
}

/** Validates a stored experiment, e.g. one read back from storage (400 on failure). */
export function parseExperiment(input: unknown): Experiment {
  return parseOrThrow(experimentSchema, input);
}

/** The single control variant (validation guarantees there is exactly one). */
export function controlOf(experiment: Pick<Experiment, 'variants' | 'id'>): Variant {
  const control = experiment.variants.find((v) => v.is_control);
  if (!control) throw new Error(`experiment ${experiment.id} has no control variant`);
  return control;
}

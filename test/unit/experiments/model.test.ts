import { describe, expect, it } from 'vitest';
import type { FieldError } from '../../../lambdas/domain/experiments/index.ts';
import {
  createExperimentRequestSchema,
  ExperimentValidationError,
  formatFieldPath,
  parseCreateExperimentRequest,
  zodErrorToFieldErrors,
} from '../../../lambdas/domain/experiments/index.ts';
import { validRequest, variantsWithWeights } from './fixtures/experiments.ts';

/** The field errors a body produces, or [] when it is valid. */
function fieldErrorsOf(body: unknown): FieldError[] {
  const result = createExperimentRequestSchema.safeParse(body);
  return result.success ? [] : zodErrorToFieldErrors(result.error, body);
}

describe('create experiment request', () => {
  it('accepts a minimal request and applies the documented defaults', () => {
    // Act
    const parsed = parseCreateExperimentRequest(validRequest());

    // Assess
    expect(parsed).toMatchObject({
      status: 'draft',
      mode: 'ab',
      analysis_method: 'frequentist',
      confidence_level: 0.95,
      min_sample_size: 1000,
      traffic_coverage: 1,
      holdout_share: 0,
      guardrails: [],
      target_metric: { kind: 'click_through', event_type: 'click' },
    });
    expect(parsed.variants.map((v) => v.active)).toEqual([true, true]);
  });

  it.each([
    ['a negative weight', [0.5, -0.5], 'variants[1].weight', 'must be >= 0'],
    ['a NaN weight', [NaN, 1], 'variants[0].weight', 'must be a finite number, got NaN'],
    ['an infinite weight', [Infinity, 0], 'variants[0].weight', 'must be a finite number, got Infinity'],
    ['all-zero weights', [0, 0], 'variants', 'weights must not all be 0'],
    ['weights summing to 0.9', [0.5, 0.4], 'variants', 'weights must sum to 1 (±1e-9), got 0.9'],
    ['weights summing to 100', [50, 50], 'variants[0].weight', 'must be <= 1'],
  ])('rejects %s naming the field', (_, weights, field, message) => {
    // Act
    const errors = fieldErrorsOf(validRequest({ variants: variantsWithWeights(weights) }));

    // Assess
    expect(errors).toContainEqual({ field, message });
  });

  it('accepts weights that sum to 1 up to floating-point error', () => {
    // Prepare: 0.1 * 10 is 0.9999999999999999 in binary floating point
    const weights = Array.from({ length: 10 }, () => 0.1);

    // Act
    const errors = fieldErrorsOf(validRequest({ variants: variantsWithWeights(weights) }));

    // Assess
    expect(errors).toEqual([]);
  });

  it('rejects a request without a control', () => {
    // Prepare
    const variants = variantsWithWeights([0.5, 0.5]).map((v) => ({ ...v, is_control: false }));

    // Act
    const errors = fieldErrorsOf(validRequest({ variants }));

    // Assess
    expect(errors).toEqual([{ field: 'variants', message: 'exactly one variant must have is_control: true, found 0' }]);
  });

  it('rejects a request with two controls', () => {
    // Prepare
    const variants = variantsWithWeights([0.5, 0.5]).map((v) => ({ ...v, is_control: true }));

    // Act
    const errors = fieldErrorsOf(validRequest({ variants }));

    // Assess
    expect(errors).toEqual([{ field: 'variants', message: 'exactly one variant must have is_control: true, found 2' }]);
  });

  it('rejects an inactive variant that still has weight', () => {
    // Prepare
    const variants = variantsWithWeights([0.5, 0.5]).map((v, i) => (i === 1 ? { ...v, active: false } : v));

    // Act
    const errors = fieldErrorsOf(validRequest({ variants }));

    // Assess
    expect(errors).toContainEqual({ field: 'variants[1].weight', message: 'must be 0 when the variant is inactive' });
  });

  it('rejects duplicate variant names', () => {
    // Prepare
    const variants = variantsWithWeights([0.5, 0.5]).map((v) => ({ ...v, name: 'same' }));

    // Act
    const errors = fieldErrorsOf(validRequest({ variants }));

    // Assess
    expect(errors).toContainEqual({ field: 'variants[1].name', message: "duplicate variant name 'same'" });
  });

  it.each([
    ['upper case', 'Homepage'],
    ['a space', 'home page'],
    ['65 characters', 'a'.repeat(65)],
  ])('rejects an id with %s', (_, id) => {
    // Act
    const errors = fieldErrorsOf(validRequest({ id }));

    // Assess
    expect(errors.map((e) => e.field)).toEqual(['id']);
  });

  it('accepts an id of exactly 64 slug characters', () => {
    // Act
    const errors = fieldErrorsOf(validRequest({ id: `${'a-b_9'.repeat(12)}abcd` }));

    // Assess
    expect(errors).toEqual([]);
  });

  it('names missing required fields', () => {
    // Act
    const errors = fieldErrorsOf({});

    // Assess
    expect(errors).toEqual([
      { field: 'id', message: 'is required' },
      { field: 'name', message: 'is required' },
      { field: 'variants', message: 'is required' },
      { field: 'target_metric', message: 'is required' },
    ]);
  });

  it('names an unknown field, including inside a variant', () => {
    // Prepare
    const request = validRequest();
    const body = { ...request, colour: 'blue', variants: [{ ...request.variants[0], wieght: 1 }, request.variants[1]] };

    // Act
    const errors = fieldErrorsOf(body);

    // Assess
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'colour', message: 'is not a known field' },
        { field: 'variants[0].wieght', message: 'is not a known field' },
      ]),
    );
  });

  it('names an unknown target metric kind', () => {
    // Act
    const errors = fieldErrorsOf(validRequest({ target_metric: { kind: 'revenue' } as never }));

    // Assess
    expect(errors).toEqual([{ field: 'target_metric.kind', message: 'must be one of "click_through", "conversion", "watch_time", "rating"' }]);
  });

  it.each([
    ['an unknown status', { status: 'paused' }, 'status'],
    ['an unknown analysis method', { analysis_method: 'magic' }, 'analysis_method'],
    ['an unknown mode', { mode: 'multivariate' }, 'mode'],
    ['a confidence level of 1', { confidence_level: 1 }, 'confidence_level'],
    ['a fractional minimum sample size', { min_sample_size: 10.5 }, 'min_sample_size'],
    ['zero traffic coverage', { traffic_coverage: 0 }, 'traffic_coverage'],
    ['traffic coverage above 1', { traffic_coverage: 1.5 }, 'traffic_coverage'],
    ['a holdout share of 1', { holdout_share: 1 }, 'holdout_share'],
    ['a reserved salt', { salt: '__layer:x' }, 'salt'],
    ['a malformed start time', { start_time: 'tomorrow' }, 'start_time'],
    ['an end time before the start time', { start_time: '2026-02-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z' }, 'end_time'],
    ['a layer with both share and range', { layer: { name: 'home', share: 0.5, bucket_start: 0, bucket_end: 10 } }, 'layer.share'],
    ['a layer range ending before it starts', { layer: { name: 'home', bucket_start: 500, bucket_end: 100 } }, 'layer.bucket_end'],
    ['a guardrail on an unknown metric', { guardrails: [{ metric: 'mood' }] }, 'guardrails[0].metric'],
  ])('rejects %s naming the field', (_, overrides, field) => {
    // Act
    const errors = fieldErrorsOf(validRequest(overrides as never));

    // Assess
    expect(errors.map((e) => e.field)).toEqual([field]);
  });

  it('rejects bandit mode on a continuous metric', () => {
    // Act
    const errors = fieldErrorsOf(validRequest({ mode: 'bandit', target_metric: { kind: 'watch_time' } }));

    // Assess
    expect(errors).toEqual([{ field: 'target_metric.kind', message: 'bandit mode needs a binary metric (click_through or conversion), got watch_time' }]);
  });

  it('rejects interleaving with three active variants', () => {
    // Act
    const errors = fieldErrorsOf(validRequest({ mode: 'interleaving', variants: variantsWithWeights([0.4, 0.3, 0.3]) }));

    // Assess
    expect(errors).toEqual([{ field: 'variants', message: 'interleaving needs exactly 2 active variants, found 3' }]);
  });

  it('throws a 400 listing every field from parseCreateExperimentRequest', () => {
    // Act
    const act = () => parseCreateExperimentRequest(validRequest({ id: 'BAD', variants: variantsWithWeights([0.5, -1]) }));

    // Assess
    expect(act).toThrowError(ExperimentValidationError);
    try {
      act();
    } catch (error) {
      const validation = error as ExperimentValidationError;
      expect(validation.status).toBe(400);
      expect(validation.statusCode).toBe(400);
      expect(validation.fields.map((f) => f.field)).toEqual(['id', 'variants[1].weight']);
      expect(validation.message).toContain('variants[1].weight: must be >= 0');
    }
  });
});

describe('formatFieldPath', () => {
  it.each([
    [['variants', 1, 'weight'], 'variants[1].weight'],
    [['target_metric', 'kind'], 'target_metric.kind'],
    [['guardrails', 0], 'guardrails[0]'],
    [[], 'body'],
  ])('renders %j as %s', (path, expected) => {
    expect(formatFieldPath(path)).toBe(expected);
  });
});

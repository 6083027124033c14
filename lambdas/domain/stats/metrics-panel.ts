/**
 * Every metric of the report, not only the target: each one measured on its own sample (no
 * shared slots), with an estimate and interval per variant and, against control, the
 * difference, its interval, the relative lift and a p-value. The p-values of the SECONDARY
 * metrics are Holm-adjusted as one family over (secondary metrics x non-control variants): a
 * report that shows a dozen tests will show a "significant" one by chance unless the family is
 * corrected. The target metric is shown here with its fixed-horizon numbers for comparison, but
 * stays out of the family: it is decided by the always-valid test of the report, unchanged.
 *
 * A metric the counters cannot test (no valid variance) is shown with its estimates and the
 * reason, never with an invented p-value.
 */
import { compareVariants, type ComparisonInput, type TestName, type VariantComparison } from './compare.ts';
import { requireCount, StatsInputError } from './errors.ts';
import { holmAdjust } from './holm.ts';
import { zCriticalFor } from './lift.ts';
import type { ProportionSample } from './proportion.ts';
import { ratioEstimate, type RatioSample } from './ratio.ts';
import { wilsonInterval } from './ranking.ts';
import type { InsufficientData, Interval } from './result.ts';
import { summarizeMeanSample, type MeanSample } from './welch.ts';

/** How a metric is measured, one sample per variant (in the configuration's variant order). */
export type PanelMeasure =
  | { kind: 'proportion'; samples: ProportionSample[] }
  | { kind: 'mean'; samples: MeanSample[] }
  | { kind: 'ratio'; samples: RatioSample[] }
  /** Estimates only: the counters hold no valid variance for this metric (`reason` says why). */
  | { kind: 'not-tested'; reason: string; estimates: (number | null)[]; units: number[] };

/** 'target': the experiment's decision metric (not in the family); 'secondary': everything else. */
export type PanelRole = 'target' | 'secondary';

/** One metric to show. */
export interface PanelMetricInput {
  /** Stable key, e.g. 'conversion'. */
  id: string;
  /** Short name for tables. */
  label: string;
  /** What exactly is measured, in words (unit of analysis, numerator, denominator, test). */
  definition: string;
  role: PanelRole;
  /** 'rate' values are shares (shown as percentages), 'amount' values are in the metric's units. */
  scale: 'rate' | 'amount';
  measure: PanelMeasure;
}

/** One variant's estimate of a metric. */
export interface PanelVariant {
  name: string;
  isControl: boolean;
  /** The metric's unit count: users for rates and user-level ratios, observations for means. */
  n: number;
  estimate: number | null;
  /** Wilson for proportions, delta-method normal for ratios, normal for means; null without data. */
  interval: Interval | null;
}

/** One non-control variant against control on one metric. */
export type PanelComparison = { variant: string } & (
  | {
      status: 'ok';
      test: TestName;
      controlEstimate: number;
      treatmentEstimate: number;
      difference: number;
      differenceInterval: Interval;
      relativeLift: number | null;
      relativeLiftInterval: Interval | null;
      /** Fixed-horizon two-sided p-value of this comparison alone. */
      pValue: number;
      /**
       * Holm-adjusted over the whole secondary family (every secondary metric x every
       * non-control variant); null for the target metric, which is not in the family.
       */
      pValueAdjusted: number | null;
    }
  | InsufficientData
);

/** One metric of the panel. */
export interface PanelMetric {
  id: string;
  label: string;
  definition: string;
  role: PanelRole;
  scale: 'rate' | 'amount';
  /** Why there is no test (the counters hold no valid variance); null when tested. */
  notTested: string | null;
  variants: PanelVariant[];
  /** Empty when not tested. */
  comparisons: PanelComparison[];
}

/** The multiple-comparison family of the secondary metrics. */
export interface PanelFamily {
  method: 'holm';
  /** Number of tests in the family: secondary tested metrics x non-control variants. */
  size: number;
  /** Metric ids in the family. */
  metrics: string[];
}

/** Every metric of the report. */
export interface MetricsPanel {
  confidenceLevel: number;
  control: string;
  family: PanelFamily;
  metrics: PanelMetric[];
}

/** The variants as the report's configuration has them. */
export interface PanelVariantConfig {
  name: string;
  weight: number;
  control: boolean;
}

function comparisonInputOf(
  variants: readonly PanelVariantConfig[],
  confidenceLevel: number,
  measure: Exclude<PanelMeasure, { kind: 'not-tested' }>,
): ComparisonInput {
  // The weights only feed the sample ratio check, which the panel does not report (the report's own does).
  const meta = (i: number) => ({ name: variants[i].name, weight: variants[i].weight, isControl: variants[i].control, users: 0 });
  switch (measure.kind) {
    case 'proportion':
      return { metric: 'proportion', confidenceLevel, variants: measure.samples.map((sample, i) => ({ ...meta(i), sample })) };
    case 'mean':
      return { metric: 'mean', confidenceLevel, variants: measure.samples.map((sample, i) => ({ ...meta(i), sample })) };
    case 'ratio':
      return { metric: 'ratio', confidenceLevel, variants: measure.samples.map((sample, i) => ({ ...meta(i), sample })) };
    default: {
      const unknown: never = measure;
      throw new StatsInputError('metrics', `unknown measure ${JSON.stringify(unknown)}`);
    }
  }
}

/** One variant's estimate and interval; the same intervals the report's target snapshot uses. */
function variantEstimate(measure: PanelMeasure, index: number, z: number): { n: number; estimate: number | null; interval: Interval | null } {
  switch (measure.kind) {
    case 'proportion': {
      const { users, conversions } = measure.samples[index];
      return users === 0
        ? { n: 0, estimate: null, interval: null }
        : { n: users, estimate: conversions / users, interval: wilsonInterval(conversions, users, z) };
    }
    case 'mean': {
      const sample = measure.samples[index];
      if (sample.n === 0) return { n: 0, estimate: null, interval: null };
      const summary = summarizeMeanSample(sample);
      if (sample.n < 2) return { n: sample.n, estimate: summary.mean, interval: null };
      const se = Math.sqrt(summary.variance / summary.n);
      return { n: sample.n, estimate: summary.mean, interval: { low: summary.mean - z * se, high: summary.mean + z * se } };
    }
    case 'ratio': {
      const sample = measure.samples[index];
      const estimate = ratioEstimate(sample);
      if (estimate.status !== 'ok') return { n: sample.users, estimate: sample.sumY > 0 ? sample.sumX / sample.sumY : null, interval: null };
      return {
        n: sample.users,
        estimate: estimate.ratio,
        interval: { low: estimate.ratio - z * estimate.standardError, high: estimate.ratio + z * estimate.standardError },
      };
    }
    case 'not-tested': {
      const estimate = measure.estimates[index];
      return { n: measure.units[index], estimate: estimate !== null && Number.isFinite(estimate) ? estimate : null, interval: null };
    }
    default: {
      const unknown: never = measure;
      throw new StatsInputError('metrics', `unknown measure ${JSON.stringify(unknown)}`);
    }
  }
}

function validatePanelInput(variants: readonly PanelVariantConfig[], metrics: readonly PanelMetricInput[]): void {
  const ids = new Set<string>();
  metrics.forEach((metric, m) => {
    if (typeof metric.id !== 'string' || metric.id.length === 0) throw new StatsInputError(`metrics[${m}].id`, 'must be a non-empty string');
    if (ids.has(metric.id)) throw new StatsInputError(`metrics[${m}].id`, `duplicate metric '${metric.id}'`);
    ids.add(metric.id);
    if (metric.role !== 'target' && metric.role !== 'secondary')
      throw new StatsInputError(`metrics[${m}].role`, `must be 'target' or 'secondary', got ${JSON.stringify(metric.role)}`);
    const length = metric.measure.kind === 'not-tested' ? metric.measure.estimates.length : metric.measure.samples.length;
    if (length !== variants.length) throw new StatsInputError(`metrics[${m}].measure`, `needs one sample per variant (${variants.length}), got ${length}`);
    if (metric.measure.kind === 'not-tested') {
      if (metric.measure.units.length !== variants.length)
        throw new StatsInputError(`metrics[${m}].measure.units`, `needs one count per variant (${variants.length}), got ${metric.measure.units.length}`);
      metric.measure.units.forEach((units, i) => {
        requireCount(`metrics[${m}].measure.units[${i}]`, units);
      });
    }
  });
}

type Computed = { input: PanelMetricInput; variants: PanelVariant[]; comparisons: VariantComparison[] };

/**
 * Computes every metric of the panel: per-variant estimates with intervals, each non-control
 * variant against control (the engine's own tests: delta method for ratios, two-proportion z or
 * Fisher's exact for proportions, Welch for means), and the Holm adjustment across the
 * secondary family. A comparison without enough data counts as p = 1 in the family, which keeps
 * the correction conservative rather than shrinking the family as data arrives.
 */
export function buildMetricsPanel({
  variants,
  confidenceLevel,
  metrics,
}: {
  variants: readonly PanelVariantConfig[];
  confidenceLevel: number;
  metrics: readonly PanelMetricInput[];
}): MetricsPanel {
  validatePanelInput(variants, metrics);
  const z = zCriticalFor(confidenceLevel);
  const controlIndex = variants.findIndex((variant) => variant.control);
  if (controlIndex < 0) throw new StatsInputError('variants', 'needs exactly one control variant, got 0');
  const computed: Computed[] = metrics.map((input, m) => {
    const perVariant = variants.map((variant, i) => ({ name: variant.name, isControl: variant.control, ...variantEstimate(input.measure, i, z) }));
    if (input.measure.kind === 'not-tested') return { input, variants: perVariant, comparisons: [] };
    try {
      // Bayes off: the panel reports tests, and the exact Beta-Binomial sums would only cost time.
      return {
        input,
        variants: perVariant,
        comparisons: compareVariants(comparisonInputOf(variants, confidenceLevel, input.measure), { bayes: false }).comparisons,
      };
    } catch (error) {
      // Name the metric: 'variants[1].sum_sq' alone would not say which of the panel's samples is corrupt.
      if (error instanceof StatsInputError)
        throw new StatsInputError(`metrics[${m}] (${input.id}): ${error.field}`, error.message.slice(error.field.length + 2));
      throw error;
    }
  });
  const family = computed.filter((metric) => metric.input.role === 'secondary' && metric.input.measure.kind !== 'not-tested');
  const familyP = family.flatMap((metric) => metric.comparisons.map((comparison) => (comparison.status === 'ok' ? comparison.pValue : 1)));
  const adjusted = holmAdjust(familyP);
  let next = 0;
  const adjustedOf = new Map<Computed, number[]>(family.map((metric) => [metric, metric.comparisons.map(() => adjusted[next++])]));
  return {
    confidenceLevel,
    control: variants[controlIndex].name,
    family: { method: 'holm', size: familyP.length, metrics: family.map((metric) => metric.input.id) },
    metrics: computed.map((metric) => {
      const familyAdjusted = adjustedOf.get(metric);
      return {
        id: metric.input.id,
        label: metric.input.label,
        definition: metric.input.definition,
        role: metric.input.role,
        scale: metric.input.scale,
        notTested: metric.input.measure.kind === 'not-tested' ? metric.input.measure.reason : null,
        variants: metric.variants,
        comparisons: metric.comparisons.map((comparison, c): PanelComparison => {
          if (comparison.status !== 'ok') return { variant: comparison.variant, status: 'insufficient-data', reason: comparison.reason };
          return {
            variant: comparison.variant,
            status: 'ok',
            test: comparison.test,
            controlEstimate: comparison.controlEstimate,
            treatmentEstimate: comparison.treatmentEstimate,
            difference: comparison.difference,
            differenceInterval: comparison.differenceInterval,
            relativeLift: comparison.relativeLift,
            relativeLiftInterval: comparison.relativeLiftInterval,
            pValue: comparison.pValue,
            pValueAdjusted: familyAdjusted === undefined ? null : familyAdjusted[c],
          };
        }),
      };
    }),
  };
}

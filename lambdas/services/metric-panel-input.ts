/**
 * From an experiment's stored daily counters to the report's metric panel and ranking panel:
 * which counter fields measure each metric, as of the analysis day. Pure (no AWS, no I/O).
 *
 * Every metric is measured on its own counter fields, so any number of them (and any number of
 * guardrails on them) fit in one report; only the target metric fills the engine's slots.
 * A metric whose counters hold no valid variance is given with its estimates and the reason,
 * never with an invented test.
 */
import { CAPPED_CLICKS_IMPRESSIONS_FIELD } from '../domain/events/counters.ts';
import { clickPositionField, MAX_COUNTED_POSITION, slateLengthField } from '../domain/events/event.ts';
import type { Experiment, MetricKind as ExperimentMetricKind } from '../domain/experiments/model.ts';
import type { PanelMeasure, PanelMetricInput, PanelRole, RankingPanelInput } from '../domain/stats/index.ts';
import type { ShownItems } from '../storage/shown-items.ts';
import { hasCappedSums } from './capping.ts';

/** One stored daily counter item (the shape CounterRepository.dailyCounters returns). */
interface CounterItem {
  day: string;
  [field: string]: unknown;
}

/** The per-position counter fields (counterIncrements), for p and k from 1 to MAX_COUNTED_POSITION. */
export const POSITION_COUNTER_FIELDS: readonly string[] = Array.from({ length: MAX_COUNTED_POSITION }, (_, i) => [
  clickPositionField(i + 1),
  slateLengthField(i + 1),
]).flat();

/** The counters of the impression fallbacks: every reason, cold start (unknown user), unavailable artifact. */
export const FALLBACK_COUNTER_FIELDS = ['fallback_impressions', 'fallback_cold_start_impressions', 'fallback_artifact_impressions'] as const;

/**
 * Why revenue per user has no test when the counters lack the user-level revenue sums: its
 * variance is the variance over users of each user's revenue, which needs the sum over users of
 * (revenue of the user)^2; `revenue_sum_sq` is a sum over purchases, and a user with two purchases
 * of 10 adds 200 to it, not the 400 of (10 + 10)^2.
 */
export const REVENUE_PER_USER_UNTESTED =
  'no test: its variance needs the sum over users of (revenue of the user)^2, which these counters do not hold (revenue_sum_sq is per purchase); revenue per purchase is tested instead';

const numeric = (value: unknown): number => (typeof value === 'bigint' ? Number(value) : typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** Each variant's sums of every numeric field through `through` (all days when undefined). */
export function latestSums(
  names: readonly string[],
  countersByVariant: Readonly<Record<string, readonly CounterItem[]>>,
  through?: string,
): Record<string, Record<string, number>> {
  return Object.fromEntries(
    names.map((name) => {
      const sums: Record<string, number> = {};
      for (const item of countersByVariant[name] ?? []) {
        if (through !== undefined && item.day > through) continue;
        for (const [field, value] of Object.entries(item)) {
          if (field === 'day') continue;
          const amount = numeric(value);
          if (amount !== 0 || Object.hasOwn(sums, field)) sums[field] = (sums[field] ?? 0) + amount;
        }
      }
      return [name, sums];
    }),
  );
}

const get = (sums: Readonly<Record<string, number>>, field: string): number => sums[field] ?? 0;

/**
 * Σx² ≥ (Σx)²/n, as real users' sums always are (within rounding): less is a counter written
 * before its square field existed.
 */
const momentsPossible = (n: number, sum: number, sumSq: number) => (n > 0 ? sumSq * n >= sum * sum * (1 - 1e-9) : sum === 0);

/** Σc² < (Σc)²/n: user-level moments no data can produce (counters written before they existed). */
function ratioMomentsBroken(sums: Readonly<Record<string, number>>): boolean {
  const n = get(sums, 'exposed_users');
  return (
    n > 0 &&
    (!momentsPossible(n, get(sums, 'clicks'), get(sums, 'user_clicks_sq_sum')) ||
      !momentsPossible(n, get(sums, 'impressions'), get(sums, 'user_impressions_sq_sum')))
  );
}

/**
 * Whether the counters hold the user-level revenue sums (`revenue_cents`, the sum over users of
 * each user's revenue in cents, and `user_revenue_cents_sq_sum`, the sum of its squares) for
 * every purchase they count: counters written before those fields existed have purchases without
 * them. Cents round each purchase by at most half a cent.
 */
function hasUserRevenue(sums: Readonly<Record<string, number>>): boolean {
  // Zero increments are not written: a variant without a purchase has neither field, and its users' revenue is 0.
  if (!Object.hasOwn(sums, 'revenue_cents') || !Object.hasOwn(sums, 'user_revenue_cents_sq_sum')) return get(sums, 'revenue_n') === 0;
  const cents = get(sums, 'revenue_cents');
  const centsSq = get(sums, 'user_revenue_cents_sq_sum');
  const users = get(sums, 'exposed_users');
  const matchesPurchases = Math.abs(cents / 100 - get(sums, 'revenue_sum')) <= 0.005 * get(sums, 'revenue_n') + 1e-9;
  return matchesPurchases && momentsPossible(users, cents, centsSq);
}

interface MetricSpec {
  id: string;
  label: string;
  definition: string;
  scale: 'rate' | 'amount';
  /** The experiment's target metric this is, if any. */
  target: ExperimentMetricKind | null;
  measure: (sums: readonly Readonly<Record<string, number>>[]) => PanelMeasure;
  /**
   * The same metric on the per-user capped sums (caps.ts), used whenever every variant's counters
   * hold them: one user, or one client holding the public key, cannot move it past the caps, and
   * so neither a guardrail checked on it. Absent: the metric has no capped form.
   */
  capped?: {
    definition: string;
    measure: (sums: readonly Readonly<Record<string, number>>[]) => PanelMeasure;
    fields: readonly [capped: string, raw: string][];
  };
}

/** Every capped sum moved with its raw one: activity always has a positive capped sum (every cap is at least 1), else the counters predate the field. */
const cappedFieldsPresent = (sums: Readonly<Record<string, number>>, fields: readonly [string, string][]) =>
  fields.every(([capped, raw]) => get(sums, raw) === 0 || get(sums, capped) > 0);

/** Click-through on each user's capped clicks and impressions. */
function cappedClickThrough(sums: readonly Readonly<Record<string, number>>[]): PanelMeasure {
  const broken = sums.some(
    (s) =>
      !momentsPossible(get(s, 'exposed_users'), get(s, 'capped_clicks'), get(s, 'capped_clicks_sq_sum')) ||
      !momentsPossible(get(s, 'exposed_users'), get(s, 'capped_impressions'), get(s, 'capped_impressions_sq_sum')),
  );
  if (broken) {
    return {
      kind: 'not-tested',
      reason: 'the capped counters lack consistent user-level second moments (capped_clicks_sq_sum, capped_impressions_sq_sum) that the delta method needs',
      estimates: sums.map((s) => (get(s, 'capped_impressions') > 0 ? get(s, 'capped_clicks') / get(s, 'capped_impressions') : null)),
      units: sums.map((s) => get(s, 'exposed_users')),
    };
  }
  return {
    kind: 'ratio',
    samples: sums.map((s) => ({
      users: get(s, 'exposed_users'),
      sumX: get(s, 'capped_clicks'),
      sumY: get(s, 'capped_impressions'),
      sumX2: get(s, 'capped_clicks_sq_sum'),
      sumY2: get(s, 'capped_impressions_sq_sum'),
      sumXY: get(s, CAPPED_CLICKS_IMPRESSIONS_FIELD),
    })),
  };
}

/** A per-exposed-user mean of a capped per-user total (`field`, with `field`_sq_sum), in units of `scale`. */
const cappedPerUser =
  (field: string, scale: number, what: string) =>
  (sums: readonly Readonly<Record<string, number>>[]): PanelMeasure =>
    sums.every((s) => momentsPossible(get(s, 'exposed_users'), get(s, field), get(s, `${field}_sq_sum`)))
      ? {
          kind: 'mean',
          samples: sums.map((s) => ({ n: get(s, 'exposed_users'), sum: get(s, field) / scale, sumSq: get(s, `${field}_sq_sum`) / (scale * scale) })),
        }
      : {
          kind: 'not-tested',
          reason: `the capped counters lack a consistent ${field}_sq_sum (${what}), written before the caps existed`,
          estimates: sums.map((s) => (get(s, 'exposed_users') > 0 ? get(s, field) / scale / get(s, 'exposed_users') : null)),
          units: sums.map((s) => get(s, 'exposed_users')),
        };

const meanOf =
  (prefix: 'revenue' | 'watch_time' | 'rating') =>
  (sums: readonly Readonly<Record<string, number>>[]): PanelMeasure => ({
    kind: 'mean',
    samples: sums.map((s) => ({ n: get(s, `${prefix}_n`), sum: get(s, `${prefix}_sum`), sumSq: get(s, `${prefix}_sum_sq`) })),
  });

/** The metrics of every report, in the order they are shown (the target is moved first). */
const METRICS: readonly MetricSpec[] = [
  {
    id: 'click_through',
    label: 'click-through',
    definition: 'clicks / impressions with the user as the unit (delta method z-test)',
    scale: 'rate',
    target: 'click_through',
    measure: (sums) =>
      sums.some(ratioMomentsBroken)
        ? {
            kind: 'not-tested',
            reason: 'the counters lack consistent user-level second moments (user_clicks_sq_sum, user_impressions_sq_sum) that the delta method needs',
            estimates: sums.map((s) => (get(s, 'impressions') > 0 ? get(s, 'clicks') / get(s, 'impressions') : null)),
            units: sums.map((s) => get(s, 'exposed_users')),
          }
        : {
            kind: 'ratio',
            samples: sums.map((s) => ({
              users: get(s, 'exposed_users'),
              sumX: get(s, 'clicks'),
              sumY: get(s, 'impressions'),
              sumX2: get(s, 'user_clicks_sq_sum'),
              sumY2: get(s, 'user_impressions_sq_sum'),
              sumXY: get(s, 'user_clicks_impressions_sum'),
            })),
          },
    capped: {
      definition: "clicks / impressions with the user as the unit (delta method z-test), each user's clicks and impressions capped (caps)",
      measure: cappedClickThrough,
      fields: [
        ['capped_clicks', 'clicks'],
        ['capped_impressions', 'impressions'],
      ],
    },
  },
  {
    id: 'conversion',
    label: 'conversion',
    definition: 'converters / exposed users: share of exposed users with at least one purchase (two-proportion z-test, Fisher exact when an arm has none)',
    scale: 'rate',
    target: 'conversion',
    measure: (sums) =>
      sums.some((s) => get(s, 'converters') > get(s, 'exposed_users'))
        ? {
            kind: 'not-tested',
            reason: 'a variant counts more converters than exposed users (exposures not counted yet), so the share is not defined',
            estimates: sums.map(() => null),
            units: sums.map((s) => get(s, 'exposed_users')),
          }
        : { kind: 'proportion', samples: sums.map((s) => ({ users: get(s, 'exposed_users'), conversions: get(s, 'converters') })) },
  },
  {
    id: 'revenue_per_user',
    label: 'revenue per user',
    definition: 'revenue / exposed users, a mean over users (users without a purchase count as 0; Welch t-test over users)',
    scale: 'amount',
    target: null,
    measure: (sums) =>
      sums.every(hasUserRevenue)
        ? {
            kind: 'mean',
            samples: sums.map((s) => ({ n: get(s, 'exposed_users'), sum: get(s, 'revenue_cents') / 100, sumSq: get(s, 'user_revenue_cents_sq_sum') / 10_000 })),
          }
        : {
            kind: 'not-tested',
            reason: REVENUE_PER_USER_UNTESTED,
            estimates: sums.map((s) => (get(s, 'exposed_users') > 0 ? get(s, 'revenue_sum') / get(s, 'exposed_users') : null)),
            units: sums.map((s) => get(s, 'exposed_users')),
          },
    capped: {
      definition:
        "revenue / exposed users, a mean over users, each user's revenue capped (caps.revenue; users without a purchase count as 0; Welch t-test over users)",
      measure: cappedPerUser('capped_revenue_cents', 100, 'revenue per user'),
      fields: [['capped_revenue_cents', 'revenue_sum']],
    },
  },
  {
    id: 'revenue_per_purchase',
    label: 'revenue per purchase',
    definition: 'mean purchase value over purchase events, not per user (Welch t-test over purchases)',
    scale: 'amount',
    target: null,
    measure: meanOf('revenue'),
  },
  {
    id: 'watch_time',
    label: 'watch time',
    definition: 'mean watch time per watch_time event, in seconds (Welch t-test over events)',
    scale: 'amount',
    target: 'watch_time',
    measure: meanOf('watch_time'),
    capped: {
      definition:
        "watch time per exposed user in seconds, each user's total capped (caps.watch_time_seconds; users without one count as 0; Welch t-test over users)",
      measure: cappedPerUser('capped_watch_ms', 1000, 'watch time per user'),
      fields: [['capped_watch_ms', 'watch_time_sum']],
    },
  },
  {
    id: 'rating',
    label: 'rating',
    definition: 'mean rating per rating event (Welch t-test over events)',
    scale: 'amount',
    target: 'rating',
    measure: meanOf('rating'),
  },
];

/**
 * Every metric of the report for the analysed variants (`names`, in the configuration's order),
 * from the counters through `through`: the experiment's target metric first with the role
 * 'target' (decided by the report's always-valid test, outside the secondary family), the others
 * 'secondary'.
 */
export function panelMetricInputs(
  experiment: Pick<Experiment, 'target_metric'>,
  names: readonly string[],
  countersByVariant: Readonly<Record<string, readonly CounterItem[]>>,
  through?: string,
): PanelMetricInput[] {
  const sums = latestSums(names, countersByVariant, through);
  const perVariant = names.map((name) => sums[name]);
  // The capped sums as soon as every variant's counters hold them (all written since caps exist), as the decision does.
  const capped = perVariant.every((s) => hasCappedSums(s));
  const role = (spec: MetricSpec): PanelRole => (spec.target === experiment.target_metric.kind ? 'target' : 'secondary');
  const ordered = [...METRICS].sort((a, b) => Number(role(b) === 'target') - Number(role(a) === 'target'));
  return ordered.map((spec) => {
    const form = capped && spec.capped !== undefined && perVariant.every((s) => cappedFieldsPresent(s, spec.capped!.fields)) ? spec.capped : spec;
    return { id: spec.id, label: spec.label, definition: form.definition, role: role(spec), scale: spec.scale, measure: form.measure(perVariant) };
  });
}

/**
 * Why catalogue coverage of what was shown is not measured: the distinct items come from the
 * shown-item markers /recommend writes (storage/shown-items.ts), and a variant has none when its
 * slates were not recorded or were served before the markers existed.
 */
export const COVERAGE_NOT_MEASURED =
  'not measured: no shown-item markers for every variant (slates not recorded, or served before coverage was recorded); ' +
  "each pinned model's offline catalogue coverage is in its manifest (GET /models)";

/**
 * Coverage of what was shown: each variant's distinct items over the largest catalogue any
 * variant served from (the variants of a test serve one catalogue, so that is the catalogue).
 */
export function coverageInput(names: readonly string[], shown: Readonly<Record<string, ShownItems>> | undefined): RankingPanelInput['coverage'] {
  const rows = names.map((name) => shown?.[name]);
  if (rows.some((row) => row === undefined || row.catalogueSize === 0)) return { status: 'not-measured', reason: COVERAGE_NOT_MEASURED };
  const catalogueSize = Math.max(...rows.map((row) => row!.catalogueSize));
  // A marker of an item no longer in any artifact cannot make the share exceed 1.
  return { status: 'ok', catalogueSize, distinctItemsShown: rows.map((row) => Math.min(row!.distinctItems, catalogueSize)) };
}

/** The recommendation counters per analysed variant through `through`, for the ranking panel. */
export function rankingPanelInput(
  variants: readonly { name: string; isControl: boolean }[],
  countersByVariant: Readonly<Record<string, readonly CounterItem[]>>,
  through?: string,
  shown?: Readonly<Record<string, ShownItems>>,
): Omit<RankingPanelInput, 'confidenceLevel'> {
  const sums = latestSums(
    variants.map((variant) => variant.name),
    countersByVariant,
    through,
  );
  const series = (s: Readonly<Record<string, number>>, field: (i: number) => string) => {
    const values = Array.from({ length: MAX_COUNTED_POSITION }, (_, i) => Math.max(0, get(s, field(i + 1))));
    // Trailing zeros carry nothing: keep the arrays as long as the longest non-zero entry.
    let length = values.length;
    while (length > 0 && values[length - 1] === 0) length--;
    return values.slice(0, length);
  };
  return {
    variants: variants.map((variant) => {
      const s = sums[variant.name];
      return {
        name: variant.name,
        isControl: variant.isControl,
        impressions: get(s, 'impressions'),
        slatesByLength: series(s, slateLengthField),
        clicksByPosition: series(s, clickPositionField),
        fallback: {
          total: get(s, 'fallback_impressions'),
          coldStart: get(s, 'fallback_cold_start_impressions'),
          artifact: get(s, 'fallback_artifact_impressions'),
        },
      };
    }),
    coverage: coverageInput(
      variants.map((variant) => variant.name),
      shown,
    ),
  };
}

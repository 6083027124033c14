/**
 * The recommendation metrics of the report, per variant: click-through by list position, the
 * reciprocal rank of clicks, the share of impressions served from the popularity fallback (cold
 * start and unavailable artifacts apart), and catalogue coverage when it can be measured.
 *
 * These are DESCRIPTIVE. Their counts are per impression and per click, and one user contributes
 * many of both, so impressions are not independent: a p-value that treats them as such would be
 * far too small, and the counters keep no per-user second moments per position that the delta
 * method would need. They are shown with their estimates (and, for click-through by position,
 * the impression-level Wilson interval the engine computes, to read as a rough guide), and stay
 * out of the report's multiple-comparison family and out of the decision.
 */
import { requireCount, StatsInputError } from './errors.ts';
import { zCriticalFor } from './lift.ts';
import { wilsonInterval, type PositionCtr } from './ranking.ts';
import { insufficientData, ok } from './result.ts';

/** One variant's ranking counters, cumulative. */
export interface RankingVariantInput {
  name: string;
  isControl: boolean;
  /** Every recorded impression (one per served list). */
  impressions: number;
  /** Index k - 1: impressions whose list had exactly k items (recorded since the counters exist). */
  slatesByLength: number[];
  /** Index p - 1: clicks that named list position p. */
  clicksByPosition: number[];
  /** Impressions served from the popularity list: every reason, and the two named ones. */
  fallback: { total: number; coldStart: number; artifact: number };
}

/** Catalogue coverage of what was shown: measured, or why not. */
export type CoverageInput = { status: 'ok'; distinctItemsShown: number[]; catalogueSize: number } | { status: 'not-measured'; reason: string };

/** Input of {@link buildRankingPanel}. */
export interface RankingPanelInput {
  confidenceLevel: number;
  variants: RankingVariantInput[];
  coverage: CoverageInput;
}

/** Reciprocal rank of clicks per list. */
export type ReciprocalRank =
  | {
      status: 'ok';
      /** Lists with a recorded length. */
      lists: number;
      /** Clicks with a position inside the recorded lists. */
      clicks: number;
      /** Sum over those clicks of 1 / position, divided by lists. */
      value: number;
    }
  | { status: 'insufficient-data'; reason: string };

/** Share of impressions served from the popularity fallback. */
export interface FallbackShare {
  impressions: number;
  fallbackImpressions: number;
  coldStartImpressions: number;
  artifactImpressions: number;
  /** Fallback impressions counted before the reasons were counted apart (or with another reason). */
  unclassifiedImpressions: number;
  /** Shares of all impressions; null without impressions. */
  share: number | null;
  coldStartShare: number | null;
  artifactShare: number | null;
}

/** One variant's recommendation metrics. */
export interface RankingVariant {
  name: string;
  isControl: boolean;
  /** Positions 1 .. the longest recorded list of any variant. */
  byPosition: PositionCtr[];
  /** Clicks that named a position no recorded list of this variant reached. */
  clicksBeyondLists: number;
  reciprocalRank: ReciprocalRank;
  fallback: FallbackShare;
  /** Share of the catalogue shown at least once; null when not measured. */
  coverage: number | null;
}

/** The recommendation metrics of the report. */
export interface RankingPanel {
  /** How to read these numbers (descriptive, impression-level, not in the Holm family). */
  note: string;
  reciprocalRankDefinition: string;
  confidenceLevel: number;
  /** The longest recorded list of any variant (0 before any list was recorded with its length). */
  positions: number;
  variants: RankingVariant[];
  coverage: { status: 'ok'; catalogueSize: number } | { status: 'not-measured'; reason: string };
}

export const RANKING_NOTE =
  'Descriptive: counted per impression and per click, while one user makes many of both, so these counts are not independent and carry no valid p-value; ' +
  'they are outside the multiple-comparison family and do not decide anything. The Wilson intervals by position are impression-level, a rough guide only.';

export const RECIPROCAL_RANK_DEFINITION =
  'sum over clicks of 1 / position, divided by the lists served (every click counts; it is the mean reciprocal rank of the first click when a list gets at most one click; ' +
  'a first-click MRR needs per-list state the daily counters do not keep)';

const share = (part: number, whole: number) => (whole > 0 ? part / whole : null);

function validateVariant(variant: RankingVariantInput, v: number): void {
  const field = `variants[${v}]`;
  requireCount(`${field}.impressions`, variant.impressions);
  variant.slatesByLength.forEach((count, k) => {
    requireCount(`${field}.slatesByLength[${k}]`, count);
  });
  variant.clicksByPosition.forEach((count, p) => {
    requireCount(`${field}.clicksByPosition[${p}]`, count);
  });
  requireCount(`${field}.fallback.total`, variant.fallback.total);
  requireCount(`${field}.fallback.coldStart`, variant.fallback.coldStart);
  requireCount(`${field}.fallback.artifact`, variant.fallback.artifact);
}

/** Click-through at each position from 1 to `positions`, with the impressions shown there. */
function byPosition(
  variant: RankingVariantInput,
  positions: number,
  z: number,
): { byPosition: PositionCtr[]; clicksBeyondLists: number; reciprocalRankSum: number; clicksInLists: number } {
  // Impressions at position p: every list of length k >= p showed it.
  const shownAt = new Array<number>(positions).fill(0);
  let running = 0;
  for (let p = Math.max(positions, variant.slatesByLength.length); p >= 1; p--) {
    running += variant.slatesByLength[p - 1] ?? 0;
    if (p <= positions) shownAt[p - 1] = running;
  }
  let clicksBeyondLists = 0;
  let reciprocalRankSum = 0;
  let clicksInLists = 0;
  variant.clicksByPosition.forEach((clicks, index) => {
    const position = index + 1;
    if (position > positions || shownAt[index] === 0) clicksBeyondLists += clicks;
    else {
      reciprocalRankSum += clicks / position;
      clicksInLists += clicks;
    }
  });
  const rows = shownAt.map((impressions, index): PositionCtr => {
    const position = index + 1;
    const clicks = variant.clicksByPosition[index] ?? 0;
    if (impressions === 0) return { position, ...insufficientData('no list of this variant reached this position') };
    // Repeated clicks on one item, or clients naming positions freely, can outnumber the lists.
    if (clicks > impressions)
      return { position, ...insufficientData(`${clicks} clicks named this position, more than the ${impressions} lists that showed it`) };
    return { position, ...ok({ impressions, clicks, ctr: clicks / impressions, interval: wilsonInterval(clicks, impressions, z) }) };
  });
  return { byPosition: rows, clicksBeyondLists, reciprocalRankSum, clicksInLists };
}

/**
 * The recommendation metrics per variant (see the module comment for why they are
 * descriptive). Positions run from 1 to the longest list any variant recorded, so every
 * variant's row has the same length and the chart lines up.
 */
export function buildRankingPanel(input: RankingPanelInput): RankingPanel {
  const z = zCriticalFor(input.confidenceLevel);
  input.variants.forEach(validateVariant);
  if (input.coverage.status === 'ok') {
    const { catalogueSize, distinctItemsShown } = input.coverage;
    requireCount('coverage.catalogueSize', catalogueSize);
    if (distinctItemsShown.length !== input.variants.length)
      throw new StatsInputError('coverage.distinctItemsShown', `needs one count per variant (${input.variants.length})`);
    distinctItemsShown.forEach((count, v) => {
      requireCount(`coverage.distinctItemsShown[${v}]`, count);
      if (count > catalogueSize) throw new StatsInputError(`coverage.distinctItemsShown[${v}]`, `${count} exceeds the catalogue size ${catalogueSize}`);
    });
  }
  const positions = Math.max(0, ...input.variants.map((variant) => variant.slatesByLength.reduce((longest, count, k) => (count > 0 ? k + 1 : longest), 0)));
  const coverage = input.coverage;
  return {
    note: RANKING_NOTE,
    reciprocalRankDefinition: RECIPROCAL_RANK_DEFINITION,
    confidenceLevel: input.confidenceLevel,
    positions,
    variants: input.variants.map((variant, v) => {
      const rows = byPosition(variant, positions, z);
      const lists = variant.slatesByLength.reduce((sum, count) => sum + count, 0);
      const { total, coldStart, artifact } = variant.fallback;
      return {
        name: variant.name,
        isControl: variant.isControl,
        byPosition: rows.byPosition,
        clicksBeyondLists: rows.clicksBeyondLists,
        reciprocalRank:
          lists === 0
            ? { status: 'insufficient-data', reason: 'no list recorded with its length yet' }
            : { status: 'ok', lists, clicks: rows.clicksInLists, value: rows.reciprocalRankSum / lists },
        fallback: {
          impressions: variant.impressions,
          fallbackImpressions: total,
          coldStartImpressions: coldStart,
          artifactImpressions: artifact,
          unclassifiedImpressions: Math.max(0, total - coldStart - artifact),
          share: share(total, variant.impressions),
          coldStartShare: share(coldStart, variant.impressions),
          artifactShare: share(artifact, variant.impressions),
        },
        coverage: coverage.status === 'ok' ? share(coverage.distinctItemsShown[v], coverage.catalogueSize) : null,
      };
    }),
    coverage: coverage.status === 'ok' ? { status: 'ok', catalogueSize: coverage.catalogueSize } : { status: 'not-measured', reason: coverage.reason },
  };
}

/**
 * The statistics engine: pure functions, no I/O, no AWS. Every result that cannot be computed
 * is a `{ status: 'insufficient-data', reason }` value, never NaN or Infinity.
 */
export * from './bandit.ts';
export * from './bayes.ts';
export * from './compare.ts';
export * from './errors.ts';
export * from './holm.ts';
export * from './lift.ts';
export * from './metrics-panel.ts';
export * from './power.ts';
export * from './proportion.ts';
export * from './ranking.ts';
export * from './ranking-panel.ts';
export * from './ratio.ts';
export * from './result.ts';
export * from './segments.ts';
export * from './sequential.ts';
export * from './special.ts';
export * from './srm.ts';
export * from './welch.ts';
export * from './html.ts';
export * from './report.ts';
export type * from './report-types.ts';

/**
 * Defaults of the stack's production settings (AbrecStackProps), kept apart from the code that
 * builds so they can be read, documented and overridden in one place.
 */
import type { FunctionName } from './resources.ts';

/**
 * Reserved concurrency per function. A reservation is both a floor and a ceiling: the scheduled
 * jobs cannot overlap (analysis and each retraining step run one at a time) and the public
 * functions cannot take the account's whole regional pool however hard one client with the
 * shipped API key pushes (the usage plan and the WAF rate rule limit the rate; this limits the
 * concurrency that rate costs). Sum: 322 of the default regional limit of 1,000; Lambda refuses
 * any reservation that leaves fewer than 100 unreserved, so accounts with a lower limit pass
 * `reservedConcurrency: false` (or lower these) to AbrecStack.
 */
export const DEFAULT_RESERVED_CONCURRENCY: Readonly<Record<FunctionName, number>> = {
  // 2,000 req/s at 100 ms a request: four times the usage plan's 500 req/s.
  recommend: 200,
  // Batches of up to 1,000 events take longer than a recommendation; 100 still outpaces the plan.
  events: 100,
  // Operators and the dashboard only (IAM).
  experiments: 10,
  health: 5,
  // One daily run; a second, concurrent run would write the same report keys.
  analysis: 1,
  // The state machine runs the steps one after another; retries cover a throttled start.
  retrainSnapshot: 1,
  retrainTrain: 1,
  retrainEvaluate: 1,
  retrainPublish: 1,
  retrainSwitch: 1,
  retrainRestore: 1,
};

/**
 * Requests one client IP may send in any 5-minute window before the WAF answers 429: 3,000 is
 * 10 requests per second sustained, far above what one app user's device sends, well below what
 * one abusive holder of the public API key would. Raise it for server-side clients behind one NAT
 * address (or for `abrec simulate --url` from one machine).
 */
export const DEFAULT_RATE_LIMIT_PER_IP = 3_000;

/** Thresholds of the alarms that are not "any occurrence". */
export interface AlarmThresholds {
  /** API 5XX responses as a percentage of requests, per 5 minutes (2 of 3 periods). */
  readonly api5xxRatePercent: number;
  /** API p99 latency in milliseconds, per 5 minutes (3 periods in a row). */
  readonly apiLatencyP99Ms: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  api5xxRatePercent: 1,
  // The recommend p99 is milliseconds warm; seconds means cold starts piling up or a slow store.
  apiLatencyP99Ms: 3_000,
};

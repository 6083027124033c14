/**
 * The logging and metrics port the services report through: only the calls they make, so a
 * service never imports Powertools and runs the same in Lambda, on the local runtime, in the
 * benchmarks and in tests. The Powertools adapter is `telemetry` in lambdas/common/observability.ts.
 */

/** The metric units the services count in (CloudWatch's names, as Powertools spells them). */
export type MetricUnitName = 'Count';

/** Structured fields of a log line (ids, a day, the error). */
export type LogAttributes = Record<string, unknown>;

export interface Telemetry {
  /** Something failed that needs a look: the request failed with it, or was answered without it. */
  error(message: string, attributes: LogAttributes): void;
  /** Something degraded that the request survived (best-effort work left undone). */
  warn(message: string, attributes: LogAttributes): void;
  /** Adds `value` to the metric `name`, published with the other metrics of the invocation. */
  metric(name: string, unit: MetricUnitName, value: number): void;
}

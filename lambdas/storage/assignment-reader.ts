/**
 * Reads many sticky assignments at once for event ingestion: BatchGetItem, 100 keys per call
 * (DynamoDB's limit), UnprocessedKeys retried with exponential backoff and full jitter. The
 * items are the ones DynamoExperimentRepository writes (`ASSIGN#<experiment>#<user>` / `A`).
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, type BackoffOptions } from '../common/backoff.ts';
import { mapWithConcurrency } from '../common/concurrency.ts';
import type { StoredAssignment } from './experiment-repository.ts';

/** DynamoDB's BatchGetItem limit. */
export const BATCH_GET_LIMIT = 100;

export interface AssignmentRef {
  experimentId: string;
  userId: string;
}

/** The lookup key of an (experiment, user) pair in the returned map. */
export const assignmentRefKey = (experimentId: string, userId: string) => `${experimentId}\u0000${userId}`;

type Key = { pk: string; sk: string };

/** The sticky assignments ingestion reads in bulk, to fill in each event's variant, propensity and segment. */
export interface AssignmentReader {
  /** The variant, propensity and segment of the given users' assignments, by assignmentRefKey; users without one are absent. */
  assignments(refs: readonly AssignmentRef[]): Promise<Map<string, Pick<StoredAssignment, 'variant' | 'propensity' | 'segment'>>>;
}

export class DynamoAssignmentReader implements AssignmentReader {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly backoff: BackoffOptions = {},
  ) {}

  /** Variants of the given users, by assignmentRefKey; users without an assignment are absent. */
  async variants(refs: readonly AssignmentRef[]): Promise<Map<string, string>> {
    const found = await this.assignments(refs);
    return new Map([...found].map(([key, assignment]) => [key, assignment.variant]));
  }

  /** The variant, propensity and segment of the given users' assignments, by assignmentRefKey; users without one are absent. */
  async assignments(refs: readonly AssignmentRef[]): Promise<Map<string, Pick<StoredAssignment, 'variant' | 'propensity' | 'segment'>>> {
    const keys = [...new Map(refs.map((r) => [assignmentRefKey(r.experimentId, r.userId), { pk: `ASSIGN#${r.experimentId}#${r.userId}`, sk: 'A' }])).values()];
    const chunks: Key[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) chunks.push(keys.slice(i, i + BATCH_GET_LIMIT));
    const found = new Map<string, Pick<StoredAssignment, 'variant' | 'propensity' | 'segment'>>();
    const results = await mapWithConcurrency(chunks, 4, (chunk) =>
      drainWithBackoff(
        chunk,
        async (pending) => {
          const out = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ProjectionExpression: 'assignment' } } }));
          for (const item of out.Responses?.[this.tableName] ?? []) {
            const assignment = item.assignment as StoredAssignment | undefined;
            if (assignment)
              found.set(assignmentRefKey(assignment.experimentId, assignment.userId), {
                variant: assignment.variant,
                propensity: assignment.propensity,
                ...(assignment.segment === undefined ? {} : { segment: assignment.segment }),
              });
          }
          return (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
        },
        this.backoff,
      ),
    );
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    return found;
  }
}

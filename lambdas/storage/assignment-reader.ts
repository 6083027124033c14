/**
 * Reads many sticky assignments at once for event ingestion, through batchGetEach (BatchGetItem,
 * 100 keys per call, UnprocessedKeys retried with backoff). The items are the ones
 * DynamoExperimentRepository writes (`ASSIGN#<experiment>#<user>` / `A`).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BackoffOptions } from '../common/backoff.ts';
import { batchGetEach } from './batch-get.ts';
import type { StoredAssignment } from './experiment-repository.ts';

export interface AssignmentRef {
  experimentId: string;
  userId: string;
}

/** The lookup key of an (experiment, user) pair in the returned map. */
export const assignmentRefKey = (experimentId: string, userId: string) => `${experimentId}\u0000${userId}`;

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
    const found = new Map<string, Pick<StoredAssignment, 'variant' | 'propensity' | 'segment'>>();
    await batchGetEach(
      this.db,
      this.tableName,
      keys,
      (item) => {
        const assignment = item.assignment as StoredAssignment | undefined;
        if (assignment)
          found.set(assignmentRefKey(assignment.experimentId, assignment.userId), {
            variant: assignment.variant,
            propensity: assignment.propensity,
            ...(assignment.segment === undefined ? {} : { segment: assignment.segment }),
          });
      },
      { projection: { expression: 'assignment' }, backoff: this.backoff },
    );
    return found;
  }
}

/**
 * Experiments and sticky assignments in DynamoDB.
 *
 * Items (experiments table):
 *   pk = "EXPERIMENT", sk = <experiment id>            the definition, `revision` for optimistic writes
 *   pk = "ASSIGN#<experiment id>#<user id>", sk = "A"  a user's sticky variant (conditional put)
 *                                                      and `exposure_counted`, the claim on its exposure count
 * Listing is a Query on pk = "EXPERIMENT"; nothing scans.
 *
 * An assignment's exposure is counted once, as events are: the assignment is stored claimed
 * (`exposure_counted = true`) and the caller ADDs the exposure; if that ADD fails, the caller
 * releases the claim (`exposure_counted = false`), and the next request of the user claims it
 * again (a conditional update) and counts it. Items written before the flag existed count as counted.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Experiment } from '../domain/experiments/model.ts';

export const EXPERIMENT_PK = 'EXPERIMENT';

/** A stored assignment: which variant a user saw first, and with what probability. */
export interface StoredAssignment {
  experimentId: string;
  userId: string;
  variant: string;
  bucket: number;
  propensity: number;
  /** The user's pre-exposure covariate (CUPED, domain/experiments/user-profile.ts); absent on assignments stored before it existed. */
  covariate?: number;
  /** The user's segment key for good (user-segments.ts: `known`, `cold-start:mobile`, ...); absent on assignments stored before segments existed. */
  segment?: string;
  /**
   * A bandit assignment's whole allocation in force when it was made (arm → share, summing to 1):
   * its exposure adds it to the expected exposures of every arm (domain/events/bandit-counters.ts).
   */
  allocation?: Record<string, number>;
  assignedAt: string;
  /** Set when the exposure of this assignment is not counted yet (its count failed and was released). */
  exposurePending?: true;
}

/** Raised when a conditional write lost (duplicate id, stale revision). */
export class ConcurrentModificationError extends Error {
  override readonly name = 'ConcurrentModificationError';
}

export interface ExperimentRepository {
  get(id: string): Promise<Experiment | undefined>;
  list(): Promise<Experiment[]>;
  /** Creates an experiment; ConcurrentModificationError if the id exists. */
  create(experiment: Experiment): Promise<void>;
  /** Replaces an experiment if its stored revision is still `expectedRevision`. */
  update(experiment: Experiment, expectedRevision: number): Promise<void>;
  getAssignment(experimentId: string, userId: string): Promise<StoredAssignment | undefined>;
  /**
   * Stores an assignment unless one exists, with its exposure claimed for the caller to count;
   * returns the one that is stored (first writer wins: the caller counts the exposure only when
   * it gets its own object back).
   */
  putAssignmentIfAbsent(assignment: StoredAssignment): Promise<StoredAssignment>;
  /** Claims the uncounted exposure of a stored assignment; false when it is counted or claimed already. */
  claimExposure(experimentId: string, userId: string): Promise<boolean>;
  /** Releases a claim whose exposure could not be counted, so that a later request counts it. */
  releaseExposure(experimentId: string, userId: string): Promise<void>;
}

const assignmentKey = (experimentId: string, userId: string) => ({ pk: `ASSIGN#${experimentId}#${userId}`, sk: 'A' });

/** The assignment of a stored item, flagged when its exposure is not counted. */
function assignmentOf(item: Record<string, unknown> | undefined): StoredAssignment | undefined {
  if (!item) return undefined;
  const assignment = item.assignment as StoredAssignment;
  return item.exposure_counted === false ? { ...assignment, exposurePending: true } : assignment;
}

export class DynamoExperimentRepository implements ExperimentRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(id: string): Promise<Experiment | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: EXPERIMENT_PK, sk: id }, ConsistentRead: true }));
    return Item ? (Item.data as Experiment) : undefined;
  }

  async list(): Promise<Experiment[]> {
    const out: Experiment[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': EXPERIMENT_PK },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(item.data as Experiment);
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async create(experiment: Experiment): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: EXPERIMENT_PK, sk: experiment.id, revision: experiment.revision, data: experiment },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConcurrentModificationError(`experiment ${experiment.id} already exists`);
      throw error;
    }
  }

  async update(experiment: Experiment, expectedRevision: number): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: EXPERIMENT_PK, sk: experiment.id, revision: experiment.revision, data: experiment },
          ConditionExpression: 'revision = :expected',
          ExpressionAttributeValues: { ':expected': expectedRevision },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConcurrentModificationError(`experiment ${experiment.id} was changed concurrently (expected revision ${expectedRevision})`);
      }
      throw error;
    }
  }

  async getAssignment(experimentId: string, userId: string): Promise<StoredAssignment | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: assignmentKey(experimentId, userId) }));
    return assignmentOf(Item);
  }

  async putAssignmentIfAbsent(assignment: StoredAssignment): Promise<StoredAssignment> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...assignmentKey(assignment.experimentId, assignment.userId), assignment, exposure_counted: true },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return assignment;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: assignmentKey(assignment.experimentId, assignment.userId), ConsistentRead: true }),
      );
      return assignmentOf(existing.Item) ?? assignment;
    }
  }

  async claimExposure(experimentId: string, userId: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: assignmentKey(experimentId, userId),
          UpdateExpression: 'SET exposure_counted = :true',
          ConditionExpression: 'exposure_counted = :false',
          ExpressionAttributeValues: { ':true': true, ':false': false },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async releaseExposure(experimentId: string, userId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: assignmentKey(experimentId, userId),
        UpdateExpression: 'SET exposure_counted = :false',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':false': false },
      }),
    );
  }
}

/**
 * Experiments and sticky assignments in DynamoDB.
 *
 * Items (experiments table):
 *   pk = "EXPERIMENT", sk = <experiment id>            the definition, `revision` for optimistic writes
 *   pk = "ASSIGN#<experiment id>#<user id>", sk = "A"  a user's sticky variant (conditional put)
 * Listing is a Query on pk = "EXPERIMENT"; nothing scans.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Experiment } from '../domain/experiments/model.ts';

export const EXPERIMENT_PK = 'EXPERIMENT';

/** A stored assignment: which variant a user saw first, and with what probability. */
export interface StoredAssignment {
  experimentId: string;
  userId: string;
  variant: string;
  bucket: number;
  propensity: number;
  assignedAt: string;
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
  /** Stores an assignment unless one exists; returns the one that is stored (first writer wins). */
  putAssignmentIfAbsent(assignment: StoredAssignment): Promise<StoredAssignment>;
}

const assignmentKey = (experimentId: string, userId: string) => ({ pk: `ASSIGN#${experimentId}#${userId}`, sk: 'A' });

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
    return Item ? (Item.assignment as StoredAssignment) : undefined;
  }

  async putAssignmentIfAbsent(assignment: StoredAssignment): Promise<StoredAssignment> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...assignmentKey(assignment.experimentId, assignment.userId), assignment },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return assignment;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: assignmentKey(assignment.experimentId, assignment.userId), ConsistentRead: true }),
      );
      return (existing.Item?.assignment as StoredAssignment | undefined) ?? assignment;
    }
  }
}

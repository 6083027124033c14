import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NagSuppressions } from '../cdk-nag.ts';

/** Props of {@link DeadLetterQueue}. */
export interface DeadLetterQueueProps {
  /** What lands here, for the cdk-nag reason (e.g. 'Scheduled retraining starts EventBridge could not deliver'). */
  readonly holds: string;
}

/**
 * Where a message that could not be delivered or processed waits for a person: SQS-managed
 * encryption, TLS only, kept 14 days (the SQS maximum). Its depth is alarmed in the stack.
 */
export class DeadLetterQueue extends Queue {
  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this, [
      {
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself a dead-letter queue (${props.holds}); a dead-letter queue of a dead-letter queue adds nothing.`,
      },
    ]);
  }
}

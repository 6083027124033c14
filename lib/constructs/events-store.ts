import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2, type ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type TableName } from '../resources.ts';

/** Props of {@link EventsStore}. */
export interface EventsStoreProps {
  /** Keep the tables when the stack is deleted. @default true */
  readonly retain?: boolean;
}

/**
 * The DynamoDB tables defined in resources.ts: on-demand, point-in-time recovery,
 * AWS-managed encryption, TTL where the definition names an attribute.
 */
export class EventsStore extends Construct {
  public readonly tables: Record<TableName, ITableV2>;

  constructor(scope: Construct, id: string, props: EventsStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.retain === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const build = (name: TableName): ITableV2 => {
      const definition = TABLES[name];
      return new TableV2(this, definition.id, {
        partitionKey: { name: definition.partitionKey.name, type: AttributeType.STRING },
        sortKey: { name: definition.sortKey.name, type: AttributeType.STRING },
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryptionV2.awsManagedKey(),
        timeToLiveAttribute: 'timeToLiveAttribute' in definition ? definition.timeToLiveAttribute : undefined,
        deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
        removalPolicy,
      });
    };
    this.tables = { experiments: build('experiments'), events: build('events'), counters: build('counters') };
  }
}

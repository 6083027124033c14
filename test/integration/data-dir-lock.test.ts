/**
 * A data directory whose DynamoDB files another process holds (a running `abrec serve`) is
 * refused at start with an error naming the directory and what to do, instead of dynalite
 * starting anyway and crashing on its first request ("Database is not open").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirectoryInUseError, startLocalServers } from '../../local/servers.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;

beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws.stop());

describe('startLocalServers on a data directory in use', () => {
  it('refuses with DataDirectoryInUseError naming the directory, and says how to go on', async () => {
    // Act
    const second = startLocalServers({ dataDir: aws.dataDir });

    // Assess
    await expect(second).rejects.toBeInstanceOf(DataDirectoryInUseError);
    await expect(second).rejects.toThrow(`the data directory ${aws.dataDir} is in use by another abrec process`);
    await expect(second).rejects.toThrow(/Stop that process first, use another --data-dir/);
  });

  it('starts again on the directory once the first servers have stopped (restarts keep working)', async () => {
    // Prepare
    await aws.servers.stopDynamo();

    // Act
    await aws.servers.startDynamo();

    // Assess: the restarted store answers
    const { ListTablesCommand } = await import('@aws-sdk/client-dynamodb');
    const tables = await aws.dynamo.send(new ListTablesCommand({}));
    expect(tables.TableNames?.length).toBeGreaterThan(0);
  });
});

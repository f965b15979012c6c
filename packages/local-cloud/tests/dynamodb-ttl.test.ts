/**
 * DynamoDB Time to Live through the edge with the real SDK (DynamoDB API reference, UpdateTimeToLive and
 * DescribeTimeToLive; developer guide, "Using DynamoDB Time to Live (TTL)"): the setting, kept across a restart, and
 * expired items deleted within seconds while every other item stays.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud, untilActive } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

describe('DynamoDB TTL at the edge', () => {
  let cloud: TestCloud;
  let dynamodb: DynamoDBClient;
  let tables = 0;

  beforeAll(async () => {
    cloud = await startTestCloud('ddb-ttl');
    dynamodb = new DynamoDBClient(clientConfig(cloud.emulators));
  });

  afterAll(async () => {
    dynamodb.destroy();
    await cloud.dispose();
  });

  async function table(): Promise<string> {
    tables += 1;
    const TableName = `ttl-${tables}`;
    await dynamodb.send(
      new CreateTableCommand({ TableName, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    await untilActive(dynamodb, TableName);
    return TableName;
  }
  const enable = (TableName: string, AttributeName = 'expiresAt', Enabled = true): Promise<unknown> =>
    dynamodb.send(new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { AttributeName, Enabled } }));
  const describeTtl = async (TableName: string): Promise<unknown> => (await dynamodb.send(new DescribeTimeToLiveCommand({ TableName }))).TimeToLiveDescription;
  const exists = async (TableName: string, pk: string): Promise<boolean> =>
    (await dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item !== undefined;

  it('UpdateTimeToLive / DescribeTimeToLive, with AWS validation errors', async () => {
    // Prepare
    const name = await table();
    // Act
    const before = await describeTtl(name);
    const enabled = await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }));
    const after = await describeTtl(name);
    // Assess
    expect(before).toEqual({ TimeToLiveStatus: 'DISABLED' });
    expect(enabled.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(after).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    await expect(enable(name)).rejects.toMatchObject({ name: 'ValidationException', message: 'TimeToLive is already enabled' });
    await expect(enable(name, 'other')).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('current AttributeName is expiresAt') });
    await expect(enable('no-such-table')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await enable(name, 'expiresAt', false);
    expect(await describeTtl(name)).toEqual({ TimeToLiveStatus: 'DISABLED' });
    await expect(enable(name, 'expiresAt', false)).rejects.toMatchObject({ name: 'ValidationException', message: 'TimeToLive is already disabled' });
  });

  it('deletes items whose TTL passed, within seconds, and leaves future, non-Number, missing and over-five-year-old TTLs', async () => {
    // Prepare
    const name = await table();
    await enable(name);
    const now = Math.floor(Date.now() / 1000);
    const items: Array<[string, Record<string, { N: string } | { S: string }>]> = [
      ['past', { expiresAt: { N: String(now - 10) } }],
      ['soon', { expiresAt: { N: String(now + 5) } }],
      ['future', { expiresAt: { N: String(now + 3600) } }],
      ['string', { expiresAt: { S: String(now - 10) } }],
      ['none', {}],
      ['ancient', { expiresAt: { N: String(now - 6 * 366 * 24 * 3600) } }],
    ];
    // Act
    for (const [pk, attributes] of items) await dynamodb.send(new PutItemCommand({ TableName: name, Item: { pk: { S: pk }, ...attributes } }));
    // Assess: 'soon' is there before its time and gone after it; 'past' goes too
    expect(await exists(name, 'soon')).toBe(true);
    await waitFor(async () => (!(await exists(name, 'past')) && !(await exists(name, 'soon')) ? true : undefined), { timeoutMs: 15_000, what: 'expired items deleted' });
    for (const pk of ['future', 'string', 'none', 'ancient']) expect(await exists(name, pk), pk).toBe(true);
  });

  it('keeps the setting across a restart, and forgets it when the table is deleted and created again', async () => {
    // Prepare
    const name = await table();
    await enable(name);
    // Act
    await cloud.restart();
    dynamodb.destroy();
    dynamodb = new DynamoDBClient(clientConfig(cloud.emulators));
    const afterRestart = await describeTtl(name);
    await dynamodb.send(new DeleteTableCommand({ TableName: name }));
    // DeleteTable answers DELETING, and the name stays in use (ResourceInUseException) until the table is gone, as on
    // AWS (DynamoDB API reference, DeleteTable): a busy machine takes longer than a timer tick to finish it.
    await waitFor(
      async () => {
        try {
          await dynamodb.send(new DescribeTableCommand({ TableName: name }));
          return false;
        } catch (error) {
          if ((error as Error).name === 'ResourceNotFoundException') return true;
          throw error;
        }
      },
      { what: `${name} deleted` },
    );
    await dynamodb.send(
      new CreateTableCommand({ TableName: name, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    const recreated = await describeTtl(name);
    // Assess
    expect(afterRestart).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    expect(recreated).toEqual({ TimeToLiveStatus: 'DISABLED' });
  });
});

/**
 * DynamoDB transactions through the edge with the real SDK (DynamoDB API reference, TransactWriteItems and
 * TransactGetItems): all or nothing, TransactionCanceledException with its CancellationReasons, the 100-action
 * limit, one action per item, ClientRequestToken idempotency.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbCallError } from '../src/edge/dynamodb-call.ts';
import type { DynamoDbCall, Json } from '../src/edge/dynamodb-call.ts';
import { createDynamoDbTransactions } from '../src/edge/dynamodb-transactions.ts';
import { clientConfig, startTestCloud, untilActive } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

const TABLE = 'accounts';

describe('DynamoDB transactions at the edge', () => {
  let cloud: TestCloud;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    cloud = await startTestCloud('ddb-transactions');
    dynamodb = new DynamoDBClient(clientConfig(cloud.emulators));
    await dynamodb.send(
      new CreateTableCommand({
        TableName: TABLE,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await untilActive(dynamodb, TABLE);
  });

  afterAll(async () => {
    dynamodb.destroy();
    await cloud.dispose();
  });

  const put = (pk: string, balance: number): Promise<unknown> => dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: pk }, balance: { N: String(balance) } } }));
  const balance = async (pk: string): Promise<number | undefined> => {
    const item = (await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
    return item === undefined ? undefined : Number(item.balance?.N);
  };
  /** Moves `amount` from one account to another if the first has enough. */
  const transfer = (from: string, to: string, amount: number): TransactWriteItem[] => [
    {
      Update: {
        TableName: TABLE,
        Key: { pk: { S: from } },
        UpdateExpression: 'SET balance = balance - :amount',
        ConditionExpression: 'balance >= :amount',
        ExpressionAttributeValues: { ':amount': { N: String(amount) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    { Update: { TableName: TABLE, Key: { pk: { S: to } }, UpdateExpression: 'SET balance = balance + :amount', ExpressionAttributeValues: { ':amount': { N: String(amount) } } } },
  ];
  async function rejection(promise: Promise<unknown>): Promise<Error & { CancellationReasons?: Array<{ Code?: string; Item?: unknown }> }> {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a rejection');
  }

  it('applies Put, Update, Delete and ConditionCheck together', async () => {
    // Prepare
    await put('t1-a', 10);
    await put('t1-gone', 1);
    // Act
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: { pk: { S: 't1-new' }, balance: { N: '5' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Update: { TableName: TABLE, Key: { pk: { S: 't1-a' } }, UpdateExpression: 'SET balance = balance - :n', ConditionExpression: 'balance >= :n', ExpressionAttributeValues: { ':n': { N: '4' } } } },
          { Delete: { TableName: TABLE, Key: { pk: { S: 't1-gone' } } } },
          { ConditionCheck: { TableName: TABLE, Key: { pk: { S: 't1-absent' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
    // Assess
    expect(await balance('t1-new')).toBe(5);
    expect(await balance('t1-a')).toBe(6);
    expect(await balance('t1-gone')).toBeUndefined();
    expect(await balance('t1-absent')).toBeUndefined();
  });

  it('writes nothing when one condition fails, and gives a reason per action in request order', async () => {
    // Prepare
    await put('t2-poor', 3);
    await put('t2-rich', 100);
    // Act
    const error = await rejection(
      dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { pk: { S: 't2-new' }, balance: { N: '1' } } } },
            ...transfer('t2-poor', 't2-rich', 5),
            { ConditionCheck: { TableName: TABLE, Key: { pk: { S: 't2-missing' } }, ConditionExpression: 'attribute_exists(pk)' } },
          ],
        }),
      ),
    );
    // Assess
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect(error.message).toBe('Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None, ConditionalCheckFailed]');
    expect(error.CancellationReasons?.map((reason) => reason.Code)).toEqual(['None', 'ConditionalCheckFailed', 'None', 'ConditionalCheckFailed']);
    expect(error.CancellationReasons?.[1]?.Item).toEqual({ pk: { S: 't2-poor' }, balance: { N: '3' } });
    expect(error.CancellationReasons?.[3]?.Item).toBeUndefined();
    expect(await balance('t2-new')).toBeUndefined();
    expect([await balance('t2-poor'), await balance('t2-rich')]).toEqual([3, 100]);
  });

  it('keeps the total across 20 concurrent transfers, each all or nothing', async () => {
    // Prepare: 50 + 50; transfers of 10 both ways, some refused for lack of funds
    await put('t3-x', 50);
    await put('t3-y', 50);
    // Act
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => dynamodb.send(new TransactWriteItemsCommand({ TransactItems: i % 3 === 0 ? transfer('t3-y', 't3-x', 10) : transfer('t3-x', 't3-y', 10) }))));
    // Assess
    const x = (await balance('t3-x')) ?? 0;
    const y = (await balance('t3-y')) ?? 0;
    expect(x + y).toBe(100);
    expect(x).toBeGreaterThanOrEqual(0);
    expect(y).toBeGreaterThanOrEqual(0);
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.every((result) => result.reason instanceof TransactionCanceledException)).toBe(true);
  });

  it('refuses more than 100 actions and two actions on one item (ValidationException), writing nothing', async () => {
    // Act
    const tooMany = await rejection(
      dynamodb.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 101 }, (_, i) => ({ Put: { TableName: TABLE, Item: { pk: { S: `t4-${i}` } } } })) })),
    );
    const twice = await rejection(
      dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { pk: { S: 't4-same' } } } },
            { ConditionCheck: { TableName: TABLE, Key: { pk: { S: 't4-same' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      ),
    );
    const missingTable = await rejection(dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'no-such-table', Item: { pk: { S: 'x' } } } }] })));
    // Assess
    expect(tooMany).toMatchObject({ name: 'ValidationException', message: expect.stringContaining('less than or equal to 100') });
    expect(twice).toMatchObject({ name: 'ValidationException', message: 'Transaction request cannot include multiple operations on one item' });
    expect(missingTable.name).toBe('ResourceNotFoundException');
    expect(await balance('t4-0')).toBeUndefined();
    expect(await balance('t4-same')).toBeUndefined();
  });

  it('ClientRequestToken: a repeat succeeds without writing again; other parameters with the token are refused', async () => {
    // Prepare
    await put('t5', 0);
    const add = (n: number): TransactWriteItemsCommand =>
      new TransactWriteItemsCommand({
        ClientRequestToken: 't5-token',
        TransactItems: [{ Update: { TableName: TABLE, Key: { pk: { S: 't5' } }, UpdateExpression: 'ADD balance :n', ExpressionAttributeValues: { ':n': { N: String(n) } } } }],
      });
    // Act
    await dynamodb.send(add(1));
    await dynamodb.send(add(1));
    const mismatch = await rejection(dynamodb.send(add(2)));
    // Assess
    expect(await balance('t5')).toBe(1);
    expect(mismatch.name).toBe('IdempotentParameterMismatchException');
  });

  it('TransactGetItems answers each item in request order, {} for a missing one, with projections', async () => {
    // Prepare
    await put('t6-a', 1);
    await put('t6-b', 2);
    // Act
    const out = await dynamodb.send(
      new TransactGetItemsCommand({
        TransactItems: [
          { Get: { TableName: TABLE, Key: { pk: { S: 't6-b' } } } },
          { Get: { TableName: TABLE, Key: { pk: { S: 't6-missing' } } } },
          { Get: { TableName: TABLE, Key: { pk: { S: 't6-a' } }, ProjectionExpression: '#b', ExpressionAttributeNames: { '#b': 'balance' } } },
        ],
      }),
    );
    // Assess
    expect(out.Responses).toEqual([{ Item: { pk: { S: 't6-b' }, balance: { N: '2' } } }, {}, { Item: { balance: { N: '1' } } }]);
  });
});

describe('DynamoDB transactions: a write that fails after its conditions held', () => {
  it('undoes the writes already applied from the images read before them, and cancels', async () => {
    // Prepare: every condition holds; the second write then fails its condition (another client changed the item)
    const calls: Array<{ operation: string; input: Json }> = [];
    const dynamodb: DynamoDbCall = async (operation, input) => {
      calls.push({ operation, input });
      if (operation === 'DescribeTable') return { Table: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] } };
      if (operation === 'GetItem') return { Item: { pk: (input.Key as Json).pk, v: { N: '1' } } };
      if (operation === 'UpdateItem' && input.UpdateExpression !== undefined && (input.Key as { pk: { S: string } }).pk.S === 'b') {
        throw new DynamoDbCallError('ConditionalCheckFailedException', 'The conditional request failed');
      }
      return {};
    };
    const transactions = createDynamoDbTransactions({ dynamodb });
    const update = (pk: string): Json => ({ Update: { TableName: 't', Key: { pk: { S: pk } }, UpdateExpression: 'SET v = :v', ConditionExpression: 'v = :one', ExpressionAttributeValues: { ':v': { N: '2' }, ':one': { N: '1' } } } });
    // Act
    const answer = await transactions.handle('TransactWriteItems', { TransactItems: [update('a'), update('b')] });
    // Assess
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toMatchObject({ __type: expect.stringContaining('TransactionCanceledException'), CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }] });
    expect(calls.at(-1)).toEqual({ operation: 'PutItem', input: { TableName: 't', Item: { pk: { S: 'a' }, v: { N: '1' } } } });
  });
});

import { Socket } from 'node:net';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientConfig, startTestCloud, untilActive } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

/** One round trip per service the functions use, through the SDK; answers what each read back. */
async function roundTrips(cloud: TestCloud): Promise<{ item?: string; body?: string; object?: string; sequence?: string }> {
  const config = clientConfig(cloud.emulators);
  const dynamodb = new DynamoDBClient(config);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'orders',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  await untilActive(dynamodb, 'orders');
  await dynamodb.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'o-1' }, status: { S: 'PLACED' } } }));
  const { Item } = await dynamodb.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'o-1' } } }));
  const sqs = new SQSClient(config);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'work' }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'labels' }));
  await s3.send(new PutObjectCommand({ Bucket: 'labels', Key: 'o-1.txt', Body: 'label for o-1' }));
  const object = await s3.send(new GetObjectCommand({ Bucket: 'labels', Key: 'o-1.txt' }));
  const kinesis = new KinesisClient(config);
  await kinesis.send(new CreateStreamCommand({ StreamName: 'events', ShardCount: 1 }));
  await untilActive(kinesis, 'events');
  const { SequenceNumber } = await kinesis.send(new PutRecordCommand({ StreamName: 'events', PartitionKey: 'o-1', Data: Buffer.from('{}') }));
  return { item: Item?.status?.S, body: Messages[0]?.Body, object: await object.Body?.transformToString(), sequence: SequenceNumber };
}

describe('AWS SDK clients in the local cloud process', () => {
  const clouds: TestCloud[] = [];
  const handle = NodeHttpHandler.prototype.handle;

  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(clouds.splice(0).map((cloud) => cloud.dispose()));
  });

  it.each([
    { where: 'in their own thread (the default)', options: {}, sockets: false },
    { where: "on the edge's thread", options: { emulatorsThread: false }, sockets: false },
    { where: 'with inProcessClients: false', options: { inProcessClients: false }, sockets: true },
  ])('reach the edge and the emulators $where with the same answers, over a socket: $sockets', async ({ where, options, sockets }) => {
    // Prepare
    const cloud = await startTestCloud(where.replace(/\W+/g, '-'), options);
    clouds.push(cloud);
    const connect = vi.spyOn(Socket.prototype, 'connect');
    // Act
    const answers = await roundTrips(cloud);
    // Assess
    expect(answers).toMatchObject({ item: 'PLACED', body: 'hello', object: 'label for o-1' });
    expect(answers.sequence).toMatch(/^\d+$/);
    expect(connect.mock.calls.length > 0).toBe(sockets);
  });

  it('take the socket again once the emulators have stopped', async () => {
    // Prepare
    const cloud = await startTestCloud('stopped');
    // Act
    await cloud.dispose();
    // Assess
    expect(NodeHttpHandler.prototype.handle).toBe(handle);
  });
});

import { Socket } from 'node:net';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { serveInProcess } from '../src/edge/in-process-clients.ts';
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
  const signRequest = (SignatureV4.prototype as unknown as { signRequest: unknown }).signRequest;

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

  it('sign a request to an edge in memory with its credential scope and no hashing; a request elsewhere as always', async () => {
    // Prepare: a listener served in memory on a port nothing listens on, and a real server elsewhere.
    const seen: Record<string, IncomingHttpHeaders> = {};
    const answer = (name: string) => (req: IncomingMessage, res: ServerResponse): void => {
      seen[name] = req.headers;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{"QueueUrls":[]}');
    };
    const server = createServer(answer('socket'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const unregister = serveInProcess(1, answer('memory'));
    const credentials = { accessKeyId: 'ASIALOCALTEST', secretAccessKey: 'secret', sessionToken: 'session' };
    const client = (port: number): SQSClient => new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'eu-west-1', credentials, requestHandler: new NodeHttpHandler() });
    // Act
    try {
      await client(1).send(new ListQueuesCommand({}));
      await client((server.address() as AddressInfo).port).send(new ListQueuesCommand({}));
    } finally {
      unregister();
      server.close();
    }
    // Assess
    expect(seen.memory).toMatchObject({
      authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=ASIALOCALTEST\/\d{8}\/eu-west-1\/sqs\/aws4_request, SignedHeaders=host;x-amz-date, Signature=0{64}$/),
      'x-amz-date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
      'x-amz-security-token': 'session',
    });
    expect(seen.socket?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIALOCALTEST\/\d{8}\/eu-west-1\/sqs\/aws4_request, SignedHeaders=[^,]+, Signature=(?!0{64})[0-9a-f]{64}$/);
  });

  it('take the socket again once the emulators have stopped', async () => {
    // Prepare
    const cloud = await startTestCloud('stopped');
    // Act
    await cloud.dispose();
    // Assess
    expect(NodeHttpHandler.prototype.handle).toBe(handle);
    expect((SignatureV4.prototype as unknown as { signRequest: unknown }).signRequest).toBe(signRequest);
  });
});

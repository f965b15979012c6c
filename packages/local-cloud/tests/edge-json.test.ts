/**
 * The pollers' SDK-less calls (src/event-sources/edge-json.ts): against a real edge in memory and over HTTP, the
 * service's error code as the error's name, retries of server-side errors only.
 */
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EdgeJsonClient } from '../src/event-sources/edge-json.ts';
import { LOCAL_CREDENTIALS } from '../src/util/clients.ts';
import { clientConfig, startTestCloud, type TestCloud } from './helpers/emulators.ts';

describe('EdgeJsonClient against the edge', () => {
  let cloud: TestCloud;
  beforeAll(async () => {
    cloud = await startTestCloud('edge-json');
  });
  afterAll(async () => {
    await cloud?.dispose();
  });

  it('receives and deletes through the edge in memory, and names a missing queue by its SQS query error code', async () => {
    // Arrange
    const sqs = new SQSClient(clientConfig(cloud.emulators));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'edge-json' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello', MessageAttributes: { kind: { DataType: 'Binary', BinaryValue: Buffer.from('bin') } } }));
    const client = new EdgeJsonClient({ endpoint: cloud.emulators.endpoint, region: cloud.emulators.region, service: 'sqs', credentials: LOCAL_CREDENTIALS });
    // Act
    const received = await client.call<{ Messages?: Array<{ Body: string; ReceiptHandle: string; MessageAttributes: Record<string, { BinaryValue: string }> }> }>('ReceiveMessage', {
      QueueUrl,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
    });
    const message = received.Messages?.[0];
    const deleted = await client.call<{ Successful?: { Id: string }[] }>('DeleteMessageBatch', { QueueUrl, Entries: [{ Id: '0', ReceiptHandle: message?.ReceiptHandle }] });
    const missing = client.call('ReceiveMessage', { QueueUrl: `${cloud.emulators.endpoint}/000000000000/no-such-queue` });
    // Assess
    expect(message?.Body).toBe('hello');
    expect(Buffer.from(message?.MessageAttributes.kind?.BinaryValue ?? '', 'base64').toString()).toBe('bin');
    expect(deleted.Successful).toEqual([{ Id: '0' }]);
    await expect(missing).rejects.toMatchObject({ name: 'AWS.SimpleQueueService.NonExistentQueue', statusCode: 400 });
    sqs.destroy();
  });

  it("leaves no listener on a poller's long-lived signal once a call is answered (each kept its request and answer)", async () => {
    // Arrange
    const sqs = new SQSClient(clientConfig(cloud.emulators));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'edge-json-signal' }));
    const client = new EdgeJsonClient({ endpoint: cloud.emulators.endpoint, region: cloud.emulators.region, service: 'sqs', credentials: LOCAL_CREDENTIALS });
    const poller = new AbortController();
    // Act
    for (let i = 0; i < 5; i += 1) await client.call('ReceiveMessage', { QueueUrl, WaitTimeSeconds: 0 }, poller.signal);
    // Assess
    expect(getEventListeners(poller.signal, 'abort')).toHaveLength(0);
    sqs.destroy();
  });
});

describe('EdgeJsonClient over HTTP', () => {
  let server: Server;
  let endpoint: string;
  const answers: Array<{ status: number; headers?: Record<string, string>; body: string }> = [];
  const seen: IncomingMessage['headers'][] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      const answer = answers.shift() ?? { status: 200, body: '{}' };
      res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', ...answer.headers });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    answers.length = 0;
    seen.length = 0;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  const client = (): EdgeJsonClient =>
    new EdgeJsonClient({ endpoint, region: 'eu-west-1', service: 'sqs', credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 'token' } });

  it("carries the role's access key in the credential scope and its session token, with the operation as target", async () => {
    // Act
    await client().call('DeleteMessageBatch', { QueueUrl: 'q', Entries: [] });
    // Assess
    expect(seen[0]).toMatchObject({
      'x-amz-target': 'AmazonSQS.DeleteMessageBatch',
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-security-token': 'token',
      authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request, /),
    });
  });

  it('retries a server-side error twice, then throws it; a client-side error is thrown at once, named by x-amzn-query-error', async () => {
    // Arrange
    const denied = { status: 403, headers: { 'x-amzn-query-error': 'AccessDenied;Sender' }, body: JSON.stringify({ __type: 'com.amazonaws.sqs#AccessDeniedException', message: 'not authorized' }) };
    const failing = { status: 500, body: JSON.stringify({ __type: 'InternalFailure', message: 'boom' }) };
    answers.push(failing, { status: 200, body: '{"Successful":[]}' }, denied, failing, failing, failing);
    // Act
    const recovered = await client().call('DeleteMessageBatch', {});
    const refused = await client().call('DeleteMessageBatch', {}).catch((error: unknown) => error);
    const failed = await client().call('DeleteMessageBatch', {}).catch((error: unknown) => error);
    // Assess
    expect(recovered).toEqual({ Successful: [] });
    expect(refused).toMatchObject({ name: 'AccessDenied', message: 'not authorized', statusCode: 403 });
    expect(failed).toMatchObject({ name: 'InternalFailure', message: 'boom', statusCode: 500 });
    expect(seen).toHaveLength(6);
  });
});

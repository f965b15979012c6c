import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlHeaders, type IamReport, type LocalCloud } from '../src/index.ts';
import { FIXTURE_DIR, startFixtureCloud } from './helpers/emulators.ts';
import { waitFor } from '../src/util/wait.ts';
import { IamGuard, parseIamMode, type IamMode } from '../src/edge/iam.ts';
import { banner, parseArguments, UsageError } from '../src/cli.ts';
import { authorizationsOf, type ClassifiedRequest } from '../src/edge/iam-requests.ts';
import { functionCredentials, type IamModel } from '../src/edge/iam-roles.ts';

const SCOPE = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
const QUEUE_URL = 'http://127.0.0.1:4566/000000000000/results';

describe('IAM: the authorizations a request needs', () => {
  const authorizations = (request: ClassifiedRequest, hashKeys: Record<string, string> = {}): unknown => authorizationsOf(request, SCOPE, (table) => hashKeys[table]);

  it('authorizes an SQS batch as its single action, on the queue of its URL', () => {
    expect(authorizations({ protocol: 'json', service: 'sqs', operation: 'SendMessageBatch', input: { QueueUrl: QUEUE_URL } })).toEqual([
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:results' },
    ]);
  });

  it('authorizes a DynamoDB transaction per item, a query on its index, and carries dynamodb:LeadingKeys', () => {
    const transaction = {
      TransactItems: [{ Put: { TableName: 'orders', Item: { pk: { S: 'o-1' } } } }, { ConditionCheck: { TableName: 'stock', Key: { sku: { S: 'k' } } } }],
    };
    expect(authorizations({ protocol: 'json', service: 'dynamodb', operation: 'TransactWriteItems', input: transaction }, { orders: 'pk' })).toEqual([
      { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/orders', context: { 'dynamodb:LeadingKeys': ['o-1'] } },
      { action: 'dynamodb:ConditionCheckItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/stock' },
    ]);
    expect(authorizations({ protocol: 'json', service: 'dynamodb', operation: 'Query', input: { TableName: 'orders', IndexName: 'byCustomer' } })).toEqual([
      { action: 'dynamodb:Query', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/orders/index/byCustomer' },
    ]);
  });

  it('authorizes S3 by permission: HeadObject as s3:GetObject, a copy on both objects, a listing with its s3:prefix', () => {
    const s3 = (operation: string, extra: Partial<Extract<ClassifiedRequest, { protocol: 's3' }>> = {}): ClassifiedRequest => ({ protocol: 's3', operation, bucket: 'docs', key: 'a/b.json', query: new URLSearchParams(), ...extra });
    expect(authorizations(s3('HeadObject'))).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::docs/a/b.json' }]);
    expect(authorizations(s3('CopyObject', { copySource: '/src/x%20y.json' }))).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::docs/a/b.json' },
      { action: 's3:GetObject', resource: 'arn:aws:s3:::src/x y.json' },
    ]);
    expect(authorizations(s3('ListObjectsV2', { key: '', query: new URLSearchParams('list-type=2&prefix=invoices/') }))).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::docs', context: { 's3:prefix': 'invoices/' } },
    ]);
    expect(authorizations(s3('DeleteObjects', { key: '', deleteBody: '<Delete><Object><Key>a&amp;b</Key></Object></Delete>' }))).toEqual([
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::docs/a&b' },
    ]);
  });

  it('authorizes Secrets Manager on the secret of its ARN, or of its name', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:orders/hmac-AbC123';
    expect(authorizations({ protocol: 'json', service: 'secretsmanager', operation: 'GetSecretValue', input: { SecretId: arn } })).toEqual([{ action: 'secretsmanager:GetSecretValue', resource: arn }]);
    expect(authorizations({ protocol: 'json', service: 'secretsmanager', operation: 'GetSecretValue', input: { SecretId: 'orders/hmac' } })).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:orders\/hmac-[A-Z0-9]{6}$/) as unknown },
    ]);
  });

  it('authorizes SNS PublishBatch as sns:Publish on its topic', () => {
    const params = new URLSearchParams({ Action: 'PublishBatch', TopicArn: 'arn:aws:sns:us-east-1:000000000000:events' });
    expect(authorizations({ protocol: 'query', service: 'sns', operation: 'PublishBatch', params })).toEqual([
      { action: 'sns:Publish', resource: 'arn:aws:sns:us-east-1:000000000000:events' },
    ]);
  });
});

describe('IAM: modes', () => {
  const FUNCTION = 'shop-local-worker';
  const model = (): IamModel => {
    const role = {
      roleArn: 'arn:aws:iam::000000000000:role/worker',
      roleName: 'worker',
      policies: [{ name: 'p', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: 'arn:aws:sqs:us-east-1:000000000000:results' }] } }],
      notEvaluated: [],
    };
    const identity = { functionName: FUNCTION, role, principalArn: `arn:aws:sts::000000000000:assumed-role/worker/${FUNCTION}` };
    return { ...SCOPE, identities: new Map([[functionCredentials(FUNCTION).accessKeyId, identity]]), hashKeys: new Map(), queuePolicies: new Map(), topics: [], topicPolicies: new Map(), buckets: [], functionPolicies: new Map() };
  };
  /** One SQS JSON request through the guard, signed with `accessKeyId`; what reached the service, if anything. */
  const send = async (mode: IamMode, accessKeyId: string, operation: string): Promise<{ statusCode: number; body: string; forwarded?: string; logs: string[]; guard: IamGuard }> => {
    const logs: string[] = [];
    const guard = new IamGuard({ mode, log: (line) => logs.push(line) });
    await guard.load(model());
    let forwarded: string | undefined;
    const next = async (req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      forwarded = Buffer.concat(chunks).toString('utf8');
      res.end('{}');
    };
    const answer = await inject((req, res) => void guard.screen(req, res, (allowed) => next(allowed, res)), {
      method: 'POST',
      url: '/',
      headers: {
        'x-amz-target': `AmazonSQS.${operation}`,
        'content-type': 'application/x-amz-json-1.0',
        authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20261203/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      payload: JSON.stringify({ QueueUrl: QUEUE_URL, MessageBody: 'x' }),
    });
    return { statusCode: answer.statusCode, body: answer.body, ...(forwarded === undefined ? {} : { forwarded }), logs, guard };
  };

  it('enforce: refuses what the role does not allow, with AWS error shape and message, and forwards what it allows with its body intact', async () => {
    // Act
    const denied = await send('enforce', functionCredentials(FUNCTION).accessKeyId, 'PurgeQueue');
    const allowed = await send('enforce', functionCredentials(FUNCTION).accessKeyId, 'SendMessage');
    // Assess
    expect(denied.statusCode).toBe(403);
    expect(denied.forwarded).toBeUndefined();
    expect(JSON.parse(denied.body)).toEqual({
      __type: 'AccessDeniedException',
      message: `User: arn:aws:sts::000000000000:assumed-role/worker/${FUNCTION} is not authorized to perform: sqs:PurgeQueue on resource: arn:aws:sqs:us-east-1:000000000000:results because no identity-based policy allows the sqs:PurgeQueue action`,
    });
    expect(denied.logs).toEqual([expect.stringContaining(`[iam] ${FUNCTION}: sqs:PurgeQueue on arn:aws:sqs:us-east-1:000000000000:results AccessDenied`)]);
    expect(denied.guard.denials()).toMatchObject([{ functionName: FUNCTION, action: 'sqs:PurgeQueue', refused: true, kind: 'implicit' }]);
    expect(allowed.statusCode).toBe(200);
    expect(JSON.parse(allowed.forwarded ?? '')).toEqual({ QueueUrl: QUEUE_URL, MessageBody: 'x' });
  });

  it('warn: lets a denied request through and reports it', async () => {
    const warned = await send('warn', functionCredentials(FUNCTION).accessKeyId, 'PurgeQueue');

    expect(warned.statusCode).toBe(200);
    expect(warned.forwarded).toBeDefined();
    expect(warned.guard.denials()).toMatchObject([{ action: 'sqs:PurgeQueue', refused: false }]);
    expect(warned.logs.join('\n')).toContain('--iam warn: allowed');
  });

  it('off, and any key that is not a function\'s: administrator, nothing evaluated', async () => {
    const off = await send('off', functionCredentials(FUNCTION).accessKeyId, 'PurgeQueue');
    const administrator = await send('enforce', 'test', 'PurgeQueue');

    expect([off.statusCode, administrator.statusCode]).toEqual([200, 200]);
    expect([...off.guard.denials(), ...administrator.guard.denials()]).toEqual([]);
    expect([off.guard.evaluated(), administrator.guard.evaluated()]).toEqual([0, 0]);
  });

  it('takes the mode from --iam on the command line, and names the valid modes when given another', () => {
    expect([parseArguments(['--iam', 'warn']).iam, parseArguments(['--iam=off']).iam, parseArguments([]).iam]).toEqual(['warn', 'off', undefined]);
    expect(() => parseArguments(['--iam', 'strict'])).toThrow(UsageError);
    expect(() => parseIamMode('strict', '--iam')).toThrow("--iam must be one of enforce, warn, off (got 'strict')");
  });
});

describe('IAM: event source mappings, checked as CreateEventSourceMapping checks the role', () => {
  const FUNCTION = 'shop-local-consumer';
  const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:work';
  const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/events';
  const FAILURES = 'arn:aws:sqs:us-east-1:000000000000:failures';
  const guardFor = async (mode: IamMode, statements: Record<string, unknown>[]): Promise<IamGuard> => {
    const role = { roleArn: 'arn:aws:iam::000000000000:role/consumer', roleName: 'consumer', policies: [{ name: 'p', document: { Version: '2012-10-17', Statement: statements } }], notEvaluated: [] };
    const identity = { functionName: FUNCTION, role, principalArn: `arn:aws:sts::000000000000:assumed-role/consumer/${FUNCTION}` };
    const guard = new IamGuard({ mode, log: () => undefined });
    await guard.load({ ...SCOPE, identities: new Map([[functionCredentials(FUNCTION).accessKeyId, identity]]), hashKeys: new Map(), queuePolicies: new Map(), topics: [], topicPolicies: new Map(), buckets: [], functionPolicies: new Map() });
    return guard;
  };
  const allow = (actions: string[], resource: string): Record<string, unknown> => ({ Effect: 'Allow', Action: actions, Resource: resource });

  it("refuses an SQS mapping whose role lacks one of ReceiveMessage, DeleteMessage, GetQueueAttributes, naming the first, in Lambda's words", async () => {
    const none = await guardFor('enforce', []);
    const noDelete = await guardFor('enforce', [allow(['sqs:ReceiveMessage', 'sqs:GetQueueAttributes'], QUEUE)]);
    const all = await guardFor('enforce', [allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], QUEUE)]);

    await expect(none.mappingRefusal(FUNCTION, QUEUE)).resolves.toBe('The provided execution role does not have permissions to call ReceiveMessage on SQS');
    await expect(noDelete.mappingRefusal(FUNCTION, QUEUE)).resolves.toBe('The provided execution role does not have permissions to call DeleteMessage on SQS');
    await expect(all.mappingRefusal(FUNCTION, QUEUE)).resolves.toBeUndefined();
  });

  it('refuses a Kinesis mapping without GetRecords, GetShardIterator or DescribeStream, and one whose on-failure queue the role may not send to', async () => {
    const read = allow(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:DescribeStream'], STREAM);
    const noIterator = await guardFor('enforce', [allow(['kinesis:GetRecords', 'kinesis:DescribeStream'], STREAM)]);
    const noDestination = await guardFor('enforce', [read]);
    const all = await guardFor('enforce', [read, allow(['sqs:SendMessage'], FAILURES)]);

    await expect(noIterator.mappingRefusal(FUNCTION, STREAM)).resolves.toBe(
      `Cannot access stream ${STREAM}. Please ensure the role can perform the GetRecords, GetShardIterator, and DescribeStream Actions on your stream in IAM. (denied: GetShardIterator)`,
    );
    await expect(noDestination.mappingRefusal(FUNCTION, STREAM, FAILURES)).resolves.toBe(
      `The provided execution role does not have permissions to call SendMessage on SQS (on-failure destination ${FAILURES})`,
    );
    await expect(all.mappingRefusal(FUNCTION, STREAM, FAILURES)).resolves.toBeUndefined();
  });

  it('checks nothing with --iam off, nor for a function it does not know', async () => {
    await expect((await guardFor('off', [])).mappingRefusal(FUNCTION, QUEUE)).resolves.toBeUndefined();
    await expect((await guardFor('enforce', [])).mappingRefusal('shop-local-other', QUEUE)).resolves.toBeUndefined();
  });

  it('stops the start under enforce, naming each mapping and what its role lacks; under warn starts and logs it', async () => {
    // Prepare: the fixture service with its default role stripped of the SQS consumer statement
    const dir = await mkdtemp(join(tmpdir(), 'local-iam-mapping-'));
    const template = JSON.parse(await readFile(join(FIXTURE_DIR, 'template.json'), 'utf8')) as {
      Resources: { IamRoleLambdaExecution: { Properties: { Policies: [{ PolicyDocument: { Statement: { Action: string[] }[] } }] } } };
    };
    const statements = template.Resources.IamRoleLambdaExecution.Properties.Policies[0].PolicyDocument.Statement;
    statements.splice(statements.findIndex((statement) => statement.Action.includes('sqs:ReceiveMessage')), 1);
    const templatePath = join(dir, 'template.json');
    await writeFile(templatePath, JSON.stringify(template));
    const logs: string[] = [];

    try {
      // Act + Assess
      await expect(startFixtureCloud(join(dir, 'enforce'), { templatePath, iam: 'enforce', log: () => undefined })).rejects.toThrow(
        /2 event source mapping\(s\) would fail to create on AWS \(InvalidParameterValueException\)[^]*PartialEventSourceMappingSQSWorkQueue: The provided execution role does not have permissions to call ReceiveMessage on SQS[^]*FifoEventSourceMappingSQSOrderedQueue: /,
      );
      const warned = await startFixtureCloud(join(dir, 'warn'), { templatePath, iam: 'warn', log: (line) => logs.push(line) });
      const report = warned.iam.report();
      await warned.stop();
      expect(report.mappingRefusals).toEqual([expect.stringMatching(/^PartialEventSourceMappingSQSWorkQueue: /), expect.stringMatching(/^FifoEventSourceMappingSQSOrderedQueue: /)]);
      expect(logs.filter((line) => line.includes('on AWS it would not be created'))).toEqual([
        expect.stringContaining('[iam] PartialEventSourceMappingSQSWorkQueue: The provided execution role does not have permissions to call ReceiveMessage on SQS'),
        expect.stringContaining('[iam] FifoEventSourceMappingSQSOrderedQueue: '),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('IAM: the fixture service under enforce', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-iam-'));
    cloud = await startFixtureCloud(dataDir, {
      iam: 'enforce',
      log: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("checks the test events S3 sends when the buckets' notifications are put at start-up: drops and reports those a policy refuses", async () => {
    // Assess: the drops bucket's test event to the stranger queue (policy names another source) and the strays bucket's
    // to the uploads topic (policy names the uploads bucket) were refused while the cloud started, and never arrived.
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const stranger = await sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: cloud.resources.StrangerQueue?.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
      .finally(() => sqs.destroy());
    const startUp = cloud.iam.deliveryDenials().filter((denial) => denial.service === 's3.amazonaws.com');
    // (The buckets are provisioned in parallel: in either order.)
    expect(startUp).toHaveLength(2);
    expect(startUp).toEqual(expect.arrayContaining([
      expect.objectContaining({ sourceArn: 'arn:aws:s3:::fixture-local-drops-000000000000', queueArn: cloud.resources.StrangerQueue?.arn, dropped: true }),
      expect.objectContaining({ sourceArn: 'arn:aws:s3:::fixture-local-strays-000000000000', queueArn: cloud.resources.UploadsTopic?.physicalId, dropped: true }),
    ]));
    expect([stranger.Attributes?.ApproximateNumberOfMessages, stranger.Attributes?.ApproximateNumberOfMessagesNotVisible]).toEqual(['0', '0']);
    expect(logs.filter((line) => line.startsWith('[iam] s3.amazonaws.com delivery from') && line.includes(' dropped'))).toHaveLength(2);
  });

  it('lets a function do what its role allows: inline policy and an attached AWS::IAM::Policy', async () => {
    const results = await Promise.all(['sendResult', 'getOrder', 'putProbeDocument'].map((call) => cloud.runtime.invoke('fixture-local-iam-probe', { call })));

    expect(results.map((result) => (result.ok ? 'ok' : result.error.errorMessage))).toEqual(['ok', 'ok', 'ok']);
  });

  it('fails a function whose role lacks the statement with AccessDenied naming the missing action, and logs it', async () => {
    // Act
    const result = await cloud.runtime.invoke('fixture-local-iam-probe', { call: 'putOrder' });
    // Assess
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({
      errorType: 'AccessDeniedException',
      errorMessage:
        'User: arn:aws:sts::000000000000:assumed-role/fixture-local-iam-probe-role/fixture-local-iam-probe is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/fixture-local-orders because no identity-based policy allows the dynamodb:PutItem action'.replace(
          'fixture-local-iam-probe-role',
          cloud.resources.IamProbeRole?.physicalId ?? '?',
        ),
    });
    expect(logs.some((line) => line.startsWith('[iam] fixture-local-iam-probe: dynamodb:PutItem'))).toBe(true);
  });

  it("answers S3 with its 403 AccessDenied outside the role's prefix", async () => {
    const result = await cloud.runtime.invoke('fixture-local-iam-probe', { call: 'putOtherDocument' });

    expect(!result.ok && result.error).toMatchObject({ errorType: 'AccessDenied', errorMessage: expect.stringContaining('s3:PutObject on resource: arn:aws:s3:::fixture-local-documents-000000000000/other/a.txt') });
  });

  it("keeps a function with the default role away from another function's queue", async () => {
    const result = await cloud.runtime.invoke('fixture-local-iam-default-role', { call: 'sendResult' });

    // SQS names the error as its query protocol did (the JSON answer carries `x-amzn-query-error: AccessDenied;Sender`).
    expect(!result.ok && result.error).toMatchObject({ errorType: 'AccessDenied', errorMessage: expect.stringContaining('sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:fixture-local-results') });
  });

  it('keeps an administrator identity for callers that are not functions, notes the managed policy it cannot evaluate, and the banner names the mode', async () => {
    const dynamodb = new DynamoDBClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

    await expect(dynamodb.send(new PutItemCommand({ TableName: 'fixture-local-orders', Item: { pk: { S: 'admin' }, sk: { S: 'admin' } } })).finally(() => dynamodb.destroy())).resolves.toBeDefined();
    expect(banner(cloud, 'local')).toContain("IAM enforce: each function's requests are evaluated against its role");
    expect(logs.filter((line) => line.startsWith('[iam] not evaluated: '))).toEqual([
      expect.stringContaining('managed policy arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole (not in the template)'),
    ]);
  });

  it('answers GET /_local/iam (with the token) with what it refused since start', async () => {
    // Prepare
    await cloud.runtime.invoke('fixture-local-iam-default-role', { call: 'sendResult' });

    // Act
    const response = await fetch(`${cloud.edgeUrl}/_local/iam`, { headers: controlHeaders(cloud.token) });
    const withoutToken = await fetch(`${cloud.edgeUrl}/_local/iam`);

    // Assess
    expect(response.status).toBe(200);
    const report = (await response.json()) as IamReport;
    expect(report).toMatchObject({ mode: 'enforce', mappingRefusals: [] });
    expect(report.evaluated).toBeGreaterThan(0);
    expect(report.denials).toContainEqual(
      expect.objectContaining({ functionName: 'fixture-local-iam-default-role', action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:fixture-local-results', refused: true }),
    );
    expect(withoutToken.status).toBe(403);
  });

  it('delivers SNS to SQS only where the queue policy allows sns.amazonaws.com with the topic as aws:SourceArn; drops the others and says so', async () => {
    // Prepare
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
    const sns = new SNSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials });
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials });
    const queueArn = (logicalId: string): string => cloud.resources[logicalId]?.arn ?? '?';
    const depth = async (logicalId: string): Promise<number> => {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: cloud.resources[logicalId]?.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
    };
    try {
      // Act: the notices topic reaches its queue (policy names it) and the stranger queue (policy names another topic);
      // the events topic reaches the ordered queue, which has no policy.
      const strangerBefore = await depth('StrangerQueue');
      await sns.send(new PublishCommand({ TopicArn: cloud.resources.NoticesTopic?.physicalId, Message: 'notice' }));
      await sns.send(new PublishCommand({ TopicArn: cloud.resources.EventsTopic?.physicalId, Message: '{}', MessageGroupId: 'g', MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } } }));
      // Assess: fauxqs fans out inside Publish, so what was dropped is known (and absent) when Publish answers.
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: cloud.resources.NoticesQueue?.url, WaitTimeSeconds: 5 }));
      expect(received.Messages?.map((message) => message.Body)).toEqual(['notice']);
      expect(await depth('StrangerQueue')).toBe(strangerBefore);
      const queues = [queueArn('StrangerQueue'), queueArn('OrderedQueue')];
      expect(cloud.iam.deliveryDenials().filter((denial) => denial.service === 'sns.amazonaws.com' && queues.includes(denial.queueArn))).toEqual([
        expect.objectContaining({ service: 'sns.amazonaws.com', sourceArn: cloud.resources.NoticesTopic?.physicalId, queueArn: queueArn('StrangerQueue'), dropped: true }),
        expect.objectContaining({ sourceArn: cloud.resources.EventsTopic?.physicalId, queueArn: queueArn('OrderedQueue'), reason: expect.stringContaining('no policy'), dropped: true }),
      ]);
      expect(logs.filter((line) => queues.some((queue) => line.startsWith(`[iam] sns.amazonaws.com delivery from ${cloud.resources.NoticesTopic?.physicalId ?? '?'} to ${queue} dropped`) || line.startsWith(`[iam] sns.amazonaws.com delivery from ${cloud.resources.EventsTopic?.physicalId ?? '?'} to ${queue} dropped`)))).toHaveLength(2);
    } finally {
      sns.destroy();
      sqs.destroy();
    }
  });

  it("invokes an SNS subscriber only where the function's policy (AWS::Lambda::Permission) allows the topic; a refused message goes to the subscription's DLQ only where its policy allows it", async () => {
    // Prepare
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
    const sns = new SNSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials });
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials });
    const topicArn = cloud.resources.NoticesTopic?.physicalId ?? '?';
    const functionArn = (name: string): string => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
    const invocations = (name: string): number => cloud.stats().functions[name]?.invocations ?? 0;
    const refusals = (target: string): unknown[] => cloud.iam.deliveryDenials().filter((denial) => denial.sourceArn === topicArn && denial.queueArn === target);
    // (The previous test's publish to this topic reached the functions too: what this one adds is compared.)
    const unwelcoming = cloud.resources.UnwelcomingDLQ?.arn ?? '?';
    const before = { a: invocations('fixture-local-env-a'), b: invocations('fixture-local-env-b'), window: invocations('fixture-local-window') };
    const refusedBefore = { b: refusals(functionArn('fixture-local-env-b')).length, window: refusals(functionArn('fixture-local-window')).length, dlq: refusals(unwelcoming).length };
    const dlqMessages: string[] = [];
    try {
      // Act
      await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'to the functions' }));

      // Assess: env-a (permission for the topic) is invoked; env-b (none) is not, and the message is in its
      // subscription's DLQ, whose policy allows the topic; window (none) is not, and its DLQ (no policy) refuses it.
      await waitFor(
        async () => {
          const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: cloud.resources.NoticesDLQ?.url, WaitTimeSeconds: 1 }));
          for (const message of Messages) if ((JSON.parse(message.Body ?? '{}') as { Message?: string }).Message === 'to the functions') dlqMessages.push(message.Body ?? '');
          return invocations('fixture-local-env-a') > before.a && dlqMessages.length > 0 && refusals(unwelcoming).length > refusedBefore.dlq;
        },
        { what: 'env-a invoked, the message in the notices DLQ, the unwelcoming DLQ refused', timeoutMs: 15_000 },
      );
      expect([invocations('fixture-local-env-b'), invocations('fixture-local-window')]).toEqual([before.b, before.window]);
      expect(JSON.parse(dlqMessages[0] ?? '{}')).toMatchObject({ Type: 'Notification', TopicArn: topicArn, Message: 'to the functions' });
      expect(refusals(functionArn('fixture-local-env-a'))).toEqual([]);
      expect(refusals(functionArn('fixture-local-env-b')).slice(refusedBefore.b)).toEqual([expect.objectContaining({ service: 'sns.amazonaws.com', reason: expect.stringContaining('no AWS::Lambda::Permission'), dropped: true })]);
      expect(refusals(functionArn('fixture-local-window')).slice(refusedBefore.window)).toHaveLength(1);
      expect(refusals(unwelcoming).slice(refusedBefore.dlq)).toEqual([expect.objectContaining({ reason: expect.stringContaining('the queue has no policy'), dropped: true })]);
      expect(logs.some((line) => line.includes("gave up on message") && line.includes("dropped, the DLQ's policy refuses it"))).toBe(true);
    } finally {
      sns.destroy();
      sqs.destroy();
    }
  });

  it('drops an S3 notification the queue policy does not allow from its bucket, and says so', async () => {
    // Prepare
    const s3 = new S3Client({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
    const bucketArn = 'arn:aws:s3:::fixture-local-drops-000000000000';
    const dropped = (): unknown[] => cloud.iam.deliveryDenials().filter((denial) => denial.sourceArn === bucketArn);
    const before = dropped().length;
    // Act
    await s3.send(new PutObjectCommand({ Bucket: 'fixture-local-drops-000000000000', Key: 'a.json', Body: '{}' })).finally(() => s3.destroy());
    // Assess: the notification is sent after the write answers; polled with a deadline.
    const deadline = Date.now() + 10_000;
    while (dropped().length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dropped().slice(before)).toEqual([
      expect.objectContaining({ service: 's3.amazonaws.com', queueArn: cloud.resources.StrangerQueue?.arn, reason: expect.stringContaining('aws:SourceArn arn:aws:s3:::fixture-local-drops-000000000000'), dropped: true }),
    ]);
  });

  it('publishes an S3 notification to a topic only where the topic policy allows s3.amazonaws.com with the bucket as aws:SourceArn; drops the other bucket\'s and says so', async () => {
    // Prepare
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
    const s3 = new S3Client({ endpoint: cloud.edgeUrl, region: cloud.region, credentials, forcePathStyle: true });
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials });
    const strays = 'arn:aws:s3:::fixture-local-strays-000000000000';
    const topicArn = cloud.resources.UploadsTopic?.physicalId;
    const dropped = (): unknown[] => cloud.iam.deliveryDenials().filter((denial) => denial.sourceArn === strays);
    const before = dropped().length;
    const keysReceived: string[] = [];
    try {
      // Act
      await s3.send(new PutObjectCommand({ Bucket: 'fixture-local-uploads-000000000000', Key: 'allowed.json', Body: '{}' }));
      await s3.send(new PutObjectCommand({ Bucket: 'fixture-local-strays-000000000000', Key: 'refused.json', Body: '{}' }));

      // Assess: the allowed bucket's event goes through the topic to its queue (raw: S3's own JSON); the notifications
      // are sent after the writes answer, so both outcomes are polled with a deadline.
      await waitFor(
        async () => {
          const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: cloud.resources.UploadsQueue?.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
          for (const message of Messages) {
            const event = JSON.parse(message.Body ?? '{}') as { Records?: Array<{ s3: { object: { key: string } } }> };
            for (const record of event.Records ?? []) keysReceived.push(record.s3.object.key);
          }
          return keysReceived.includes('allowed.json') && dropped().length > before;
        },
        { what: "the uploads bucket's event in the uploads queue and the strays bucket's refused", timeoutMs: 15_000 },
      );
      expect(keysReceived).not.toContain('refused.json');
      expect(dropped().slice(before)).toEqual([
        expect.objectContaining({ service: 's3.amazonaws.com', queueArn: topicArn, reason: `the topic policy allows no s3.amazonaws.com sns:Publish with aws:SourceArn ${strays}`, dropped: true }),
      ]);
      expect(logs.some((line) => line.startsWith(`[iam] s3.amazonaws.com delivery from ${strays} to ${topicArn ?? '?'} dropped`))).toBe(true);
    } finally {
      s3.destroy();
      sqs.destroy();
    }
  });
});

describe("IAM: event source mappings poll with their function's execution role", () => {
  let cloud: LocalCloud;
  let dataDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-iam-poller-'));
    cloud = await startFixtureCloud(dataDir, { iam: 'enforce', log: (line) => logs.push(line) });
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows AccessDenied in the poller\'s path when the role loses sqs:DeleteMessage after start-up, and reports it', async () => {
    // Prepare: the work queue's consumer role edited while the cloud runs (IAM loaded again): it may still receive,
    // but no longer delete.
    const FUNCTION = 'fixture-local-partial';
    const queueArn = cloud.resources.WorkQueue?.arn ?? '?';
    const role = {
      roleArn: 'arn:aws:iam::000000000000:role/fixture-local-partial-edited',
      roleName: 'fixture-local-partial-edited',
      policies: [{ name: 'consume', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:GetQueueAttributes'], Resource: queueArn }] } }],
      notEvaluated: [],
    };
    const identity = { functionName: FUNCTION, role, principalArn: `arn:aws:sts::000000000000:assumed-role/${role.roleName}/${FUNCTION}` };
    await cloud.iam.load({ ...SCOPE, identities: new Map([[functionCredentials(FUNCTION).accessKeyId, identity]]), hashKeys: new Map(), queuePolicies: new Map(), topics: [], topicPolicies: new Map(), buckets: [], functionPolicies: new Map() });
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const refused = (): unknown[] => cloud.iam.denials().filter((denial) => denial.functionName === FUNCTION && denial.action === 'sqs:DeleteMessage');
    try {
      // Act: a message for the consumer
      await sqs.send(new SendMessageCommand({ QueueUrl: cloud.resources.WorkQueue?.url, MessageBody: JSON.stringify({ id: 'kept-by-iam' }) }));
      // Assess: the function ran, the poller's DeleteMessageBatch was refused as the role's, and the message stays
      await waitFor(() => refused().length > 0 && logs.some((line) => line.startsWith('PartialEventSourceMappingSQSWorkQueue: poll failed: AccessDenied')), {
        what: "the poller's DeleteMessage refused and logged",
        timeoutMs: 20_000,
      });
      expect(refused()[0]).toMatchObject({ roleName: role.roleName, resource: queueArn, refused: true, message: expect.stringContaining(`${identity.principalArn} is not authorized to perform: sqs:DeleteMessage`) });
      expect(logs).toContainEqual(expect.stringContaining(`[iam] ${FUNCTION}: sqs:DeleteMessage on ${queueArn} AccessDenied: role ${role.roleName}`));
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: cloud.resources.WorkQueue?.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      expect(Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)).toBe(1);
    } finally {
      sqs.destroy();
    }
  });
});

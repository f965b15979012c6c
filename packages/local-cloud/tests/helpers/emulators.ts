/**
 * Shared setup for the emulator integration tests: emulators on a temporary data directory and a
 * free edge port, and SDK client configuration (polling with a deadline: `waitFor`, src/util/wait.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startEmulators } from '../../src/emulators/emulators.ts';
import { startLocalCloud, type LocalCloud } from '../../src/index.ts';
import { LOCAL_CREDENTIALS } from '../../src/util/clients.ts';
import { sleep, waitFor } from '../../src/util/wait.ts';
import type { Emulators, EmulatorsOptions } from '../../src/emulators/emulators.ts';
import type { FunctionConfig } from '../../src/runtime/runtime.ts';

interface TestCloud {
  dataDir: string;
  emulators: Emulators;
  /** Stops the emulators and starts them again on the same data directory. */
  restart(): Promise<Emulators>;
  dispose(): Promise<void>;
}

interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestHandler: NodeHttpHandler;
}

async function startTestCloud(name: string, options: Pick<EmulatorsOptions, 'inProcessClients' | 'emulatorsThread'> = {}): Promise<TestCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), `orderflow-${name}-`));
  const cloud: TestCloud = {
    dataDir,
    emulators: await startEmulators({ dataDir, edgePort: 0, ...options }),
    async restart() {
      await cloud.emulators.stop();
      cloud.emulators = await startEmulators({ dataDir, edgePort: 0, ...options });
      return cloud.emulators;
    },
    async dispose() {
      await cloud.emulators.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return cloud;
}

/**
 * Only what a deployed client would set, plus the endpoint and the dummy credentials; HTTP/1.1 (see the package
 * README, "Known quirks"). Not src/util/clients.ts's: the tests must see what a client without its
 * `forcePathStyle` and `useQueueUrlAsEndpoint` meets.
 */
function clientConfig(target: { endpoint: string; region: string }): ClientConfig {
  return { endpoint: target.endpoint, region: target.region, credentials: { ...LOCAL_CREDENTIALS }, requestHandler: new NodeHttpHandler() };
}

/** Receives and deletes until `count` messages arrived or the deadline passed (a FIFO receive gives one message per group per call). */
async function drain(sqs: SQSClient, queueUrl: string, count: number, timeoutMs = 5_000): Promise<Message[]> {
  const received: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (received.length < count && Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }),
    );
    for (const message of Messages) {
      received.push(message);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
    if (Messages.length === 0) await sleep(50);
  }
  return received;
}

/**
 * Waits for a table or stream to be ACTIVE. CreateTable and CreateStream answer CREATING, as on AWS, and a write
 * to a resource that is not ACTIVE yet is ResourceNotFoundException: the emulators flip it on their next timer tick.
 */
async function untilActive(client: DynamoDBClient | KinesisClient, name: string): Promise<void> {
  await waitFor(
    async () => {
      const status =
        client instanceof DynamoDBClient
          ? (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus
          : (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus;
      return status === 'ACTIVE';
    },
    { what: `${name} to be ACTIVE` },
  );
}

/** The fixture service (tests/fixtures/service): a compiled template and its handlers, never packaged. */
const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'service');

/**
 * A function of the fixture service's handlers as LambdaRuntime takes it (account 000000000000, us-east-1, 3 s,
 * 128 MB, no environment); `more` adds to or overrides that.
 */
function fixtureFunction(name: string, handler: string, more: Partial<FunctionConfig> = {}): FunctionConfig {
  return {
    logicalId: `${name}LambdaFunction`,
    name,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    handler,
    runtime: 'nodejs24.x',
    timeout: 3,
    memorySize: 128,
    roleArn: 'arn:aws:iam::000000000000:role/r',
    environment: {},
    ...more,
  };
}

/** The fixture service on the local cloud, on free ports, its state in `dataDir`; `options` add to or override that. */
function startFixtureCloud(dataDir: string, options: Parameters<typeof startLocalCloud>[0] = {}): Promise<LocalCloud> {
  return startLocalCloud({ skipPackage: true, templatePath: join(FIXTURE_DIR, 'template.json'), bundleDirs: [FIXTURE_DIR], dataDir, edgePort: 0, apiPort: 0, ...options });
}

export { FIXTURE_DIR, clientConfig, drain, fixtureFunction, startFixtureCloud, startTestCloud, untilActive };
export type { TestCloud };

/**
 * Shared setup for the emulator integration tests: emulators on a temporary data directory and a
 * free edge port, SDK client configuration, and polling with a deadline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startEmulators } from '../../src/emulators/emulators.ts';
import type { Emulators, EmulatorsOptions } from '../../src/emulators/emulators.ts';

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

async function startTestCloud(name: string, options: Pick<EmulatorsOptions, 'inProcessClients'> = {}): Promise<TestCloud> {
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

/** Only what a deployed client would set, plus the endpoint; HTTP/1.1 (see the package README, "Known quirks"). */
function clientConfig(emulators: Emulators): ClientConfig {
  return {
    endpoint: emulators.endpoint,
    region: emulators.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  };
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
async function eventually<T>(probe: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'a condition'}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/**
 * Waits for a table or stream to be ACTIVE. CreateTable and CreateStream answer CREATING, as on AWS, and a write
 * to a resource that is not ACTIVE yet is ResourceNotFoundException: the emulators flip it on their next timer tick.
 */
async function untilActive(client: DynamoDBClient | KinesisClient, name: string): Promise<void> {
  await eventually(
    async () => {
      const status =
        client instanceof DynamoDBClient
          ? (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus
          : (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus;
      return status === 'ACTIVE' ? true : undefined;
    },
    { what: `${name} to be ACTIVE` },
  );
}

export { clientConfig, eventually, startTestCloud, untilActive };
export type { ClientConfig, TestCloud };

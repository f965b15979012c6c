/**
 * The capacity model checked where it can be: on the local cloud, which honours an SQS mapping's BatchSize and
 * MaximumConcurrency. A queue consumed by a function that works 400 ms per message, capped at 2 concurrent batches
 * of 1 message (tests/load/fixtures/capacity-check), gets 12 messages at once. The model, fed the template and the
 * invocation durations measured in the run, predicts when the last message is done and the peak concurrency.
 *
 * Tolerance: the measured drain may not beat the prediction by more than 10 % (the work itself cannot go faster) and
 * may exceed it by at most 30 % + 0.5 s (the local poller's receive and delete between batches, which the model
 * leaves out); the peak concurrency is the mapping's cap, exactly.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, waitFor, type LocalCloud } from 'local-cloud';
import { capacityConfigFromTemplate, predictCapacity } from '../../scripts/load/capacity.ts';

const FIXTURE_DIR = join(import.meta.dirname, '..', 'load', 'fixtures', 'capacity-check');
const MESSAGES = 12;

describe('Capacity model against the local cloud: a mapping capped at 2 concurrent batches', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  let sqs: SQSClient;
  const invocations: { startedAt: number; endedAt?: number }[] = [];
  let running = 0;
  let peakRunning = 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'capacity-check-'));
    cloud = await startLocalCloud({ skipPackage: true, templatePath: join(FIXTURE_DIR, 'template.json'), bundleDirs: [FIXTURE_DIR], stackName: 'capcheck-local', dataDir, edgePort: 0, apiPort: 0, log: () => {} });
    sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    // Every poller calls runtime.invoke on this instance: wrap it to time each invocation and count those running.
    const invoke = cloud.runtime.invoke.bind(cloud.runtime);
    cloud.runtime.invoke = async (reference, event, options) => {
      const entry: { startedAt: number; endedAt?: number } = { startedAt: performance.now() };
      invocations.push(entry);
      running += 1;
      peakRunning = Math.max(peakRunning, running);
      try {
        return await invoke(reference, event, options);
      } finally {
        running -= 1;
        entry.endedAt = performance.now();
      }
    };
  }, 60_000);

  afterAll(async () => {
    sqs?.destroy();
    await cloud?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('drains when the model says, within the stated tolerance, at the predicted concurrency', async () => {
    // Prepare
    const queueUrl = cloud.outputs.WorkQueueUrl as string;
    const template = JSON.parse(await readFile(join(FIXTURE_DIR, 'template.json'), 'utf8'));

    // Act: 12 messages at once, then wait until every one was processed and the queue is empty.
    const sentAt = performance.now();
    for (let i = 0; i < MESSAGES; i += 10) {
      const entries = Array.from({ length: Math.min(10, MESSAGES - i) }, (_, j) => ({ Id: `m${i + j}`, MessageBody: JSON.stringify({ n: i + j }) }));
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      expect(result.Failed ?? []).toEqual([]);
    }
    await waitFor(
      async () => {
        const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
        const done = invocations.filter((entry) => entry.endedAt !== undefined).length;
        return done >= MESSAGES && Number(attributes.ApproximateNumberOfMessages) === 0 && Number(attributes.ApproximateNumberOfMessagesNotVisible) === 0 ? true : undefined;
      },
      { what: 'every message processed and the queue empty', timeoutMs: 30_000, intervalMs: 100 },
    );
    const measuredDrainS = (Math.max(...invocations.map((entry) => entry.endedAt as number)) - sentAt) / 1000;
    const meanDurationMs = invocations.reduce((sum, entry) => sum + ((entry.endedAt as number) - entry.startedAt), 0) / invocations.length;

    // The model: the template's limits, the 12 arrivals delivered straight to the queue, the durations measured.
    const config = capacityConfigFromTemplate(template);
    config.subscriptions = [{ queue: 'work', filter: undefined }];
    const prediction = predictCapacity({ config, arrivals: [MESSAGES], physicalShare: 0, durations: { sleep: { meanDurationMs, invocationsPerOrder: 1 } }, drainFromS: 0, emissions: {} });
    const queue = prediction.queues.find((q) => q.queue === 'work');

    // Assess
    expect(invocations).toHaveLength(MESSAGES); // batch size 1: one invocation a message
    expect(meanDurationMs).toBeGreaterThanOrEqual(400);
    expect(queue?.maxConcurrency).toBe(2);
    expect(prediction.functions.find((f) => f.fn === 'sleep')?.peak).toBe(2);
    expect(peakRunning).toBe(2);
    const predictedS = queue?.workEndsAtS as number;
    expect(predictedS).toBeCloseTo((MESSAGES * meanDurationMs) / 2 / 1000, 2);
    expect(measuredDrainS).toBeGreaterThanOrEqual(predictedS * 0.9);
    expect(measuredDrainS).toBeLessThanOrEqual(predictedS * 1.3 + 0.5);
  }, 60_000);
});

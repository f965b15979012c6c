/**
 * The review-requests worker (`npm run worker`, lib/queue-worker.ts) against the local cloud: two of them as child
 * processes, competing for one queue, each message's work slower than its visibility timeout so only the heartbeat
 * keeps it from a second delivery; then SIGTERM while messages are in work: both finish them and exit 0.
 * The queue is the test's own (a short visibility timeout, a DLQ), the table is the stack's Orders table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { waitFor } from 'local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudForTests, type CloudUnderTest } from './helpers/cloud.ts';

const PROJECT_DIR = join(import.meta.dirname, '..', '..');
/** Shorter than the work (WORK_MS), so a message would come back mid-work without its heartbeat. */
const VISIBILITY_SECONDS = 2;
const WORK_MS = 3_000;

interface WorkerProcess {
  process: ChildProcess;
  /** Its JSON log lines, parsed. */
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startWorker(t: CloudUnderTest, queueUrl: string): WorkerProcess {
  const child = spawn(process.execPath, ['scripts/worker/review-requests.ts'], {
    cwd: PROJECT_DIR,
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: t.cloud.edgeUrl,
      STACK_NAME: 'orderflow-local',
      REVIEW_REQUESTS_QUEUE_URL: queueUrl,
      ORDERS_TABLE: t.names.ordersTable,
      WORKER_VISIBILITY_SECONDS: String(VISIBILITY_SECONDS),
      WORKER_HEARTBEAT_MS: '500',
      WORKER_BATCH_SIZE: '5',
      WORKER_SHUTDOWN_GRACE_MS: '20000',
      FAULTS: JSON.stringify({ reviewWorker: { latencyMs: WORK_MS } }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8');
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ message: part });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => lines.push({ message: chunk.toString('utf8'), stderr: true }));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, lines, exited };
}

const said = (worker: WorkerProcess, message: string): Array<Record<string, unknown>> => worker.lines.filter((line) => line.message === message);

describe('Review-requests workers (not Lambda) on the local cloud', () => {
  let t: CloudUnderTest;
  let queueUrl: string;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    t = await startCloudForTests('queue-worker');
    const dlq = await t.clients.sqs.send(new CreateQueueCommand({ QueueName: `review-worker-dlq-${process.pid}` }));
    const dlqArn = (await t.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    const queue = await t.clients.sqs.send(
      new CreateQueueCommand({
        QueueName: `review-worker-${process.pid}`,
        Attributes: { VisibilityTimeout: String(VISIBILITY_SECONDS), RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) },
      }),
    );
    queueUrl = queue.QueueUrl ?? '';
    workers = [startWorker(t, queueUrl), startWorker(t, queueUrl)];
    await waitFor(
      () => {
        if (workers.every((worker) => said(worker, 'worker started').length === 1)) return true;
        throw new Error(workers.map((worker) => JSON.stringify(worker.lines.slice(-5))).join('\n'));
      },
      { what: 'both workers polling', timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    for (const worker of workers) if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    await t?.dispose();
  });

  const sendRequests = async (prefix: string, count: number): Promise<string[]> => {
    const orderIds = Array.from({ length: count }, (_, index) => `${prefix}-${process.pid}-${index}`);
    for (let start = 0; start < count; start += 10) {
      const entries = orderIds.slice(start, start + 10).map((orderId, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify({ orderId, customerId: `c-${orderId}`, correlationId: `corr-${orderId}` }),
      }));
      const sent = await t.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      expect(sent.Failed ?? []).toEqual([]);
    }
    return orderIds;
  };

  const reviewed = (orderIds: string[]): Array<Record<string, unknown>> =>
    workers.flatMap((worker) => said(worker, 'review requested')).filter((line) => orderIds.includes(String(line.orderId)));

  it('two workers share the queue; work slower than the visibility timeout is done once per message (heartbeat)', async () => {
    // Act
    const orderIds = await sendRequests('rw', 20);
    await waitFor(async () => (await Promise.all(orderIds.map((orderId) => t.orderItem(orderId)))).every((item) => typeof item?.reviewRequestedAt === 'string'), {
      what: 'every order marked reviewRequestedAt',
      timeoutMs: 60_000,
    });
    await waitFor(() => workers.reduce((sum, worker) => sum + said(worker, 'done').length, 0) === 20, { what: '20 messages deleted', timeoutMs: 30_000 });

    // Assess
    const asked = reviewed(orderIds).map((line) => String(line.orderId)).sort();
    expect(asked).toEqual([...orderIds].sort());
    expect(workers.map((worker) => said(worker, 'done').length).every((count) => count > 0)).toBe(true);
    expect(workers.flatMap((worker) => worker.lines.filter((line) => line.message === 'failed' || line.message === 'heartbeat-failed'))).toEqual([]);
  });

  it('SIGTERM while messages are in work: each worker finishes them, deletes them and exits 0', async () => {
    // Prepare
    const orderIds = await sendRequests('rw-term', 4);
    await waitFor(
      async () => {
        const attributes = (await t.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }))).Attributes;
        return Number(attributes?.ApproximateNumberOfMessagesNotVisible) === 4;
      },
      { what: 'all 4 messages in work', timeoutMs: 10_000 },
    );

    // Act
    for (const worker of workers) worker.process.kill('SIGTERM');
    const codes = await Promise.all(workers.map((worker) => worker.exited));

    // Assess
    expect(codes).toEqual([0, 0]);
    expect(reviewed(orderIds).map((line) => String(line.orderId)).sort()).toEqual([...orderIds].sort());
    const left = (await t.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes;
    expect(left).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    const stopped = workers.flatMap((worker) => said(worker, 'stopped'));
    expect(stopped.map((line) => line.released)).toEqual([0, 0]);
  });
});

/**
 * `npm run dlq` on the local cloud (real emulators, real SDK): list, peek, redrive and purge on a standard and a
 * FIFO DLQ, a redrive whose sends fail (nothing deleted), and the whole story of a poison order: it fails chargeOrder
 * until billing-dlq holds it, then, poison switched off, a redrive completes it exactly once (one invoice write,
 * COMPLETED).
 * slice-begin:analytics
 * It fails orderMetrics too, until the stream-failures queue holds its records' pointer, redriven as well.
 * slice-end:analytics
 *
 * The compiled template is used with one change, made here and not in serverless.yml: chargeOrder's timeout is 2 s
 * and so the billing queue's visibility timeout 13 s (the 6 x timeout + batching window rule kept), and
 * maxReceiveCount 2, so a poison order reaches billing-dlq in about 15 s instead of 4 minutes (5 receives, 61 s
 * apart).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, DeleteMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlHeaders, lockPackaging, packageIfStale, TEMPLATE_FILE, waitFor } from 'local-cloud';
import type { CfnTemplate } from 'local-cloud';
import { runDlq } from '../../scripts/dlq/cli.ts';
import type { ListedDlq, PeekedMessage } from '../../scripts/dlq/commands.ts';
import { digitalOrder, invocationsMentioning, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';

const PROJECT = join(import.meta.dirname, '..', '..');

interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** The compiled template with a short chargeOrder timeout, so the billing queue's visibility is short too. */
async function fastBillingTemplate(dir: string): Promise<string> {
  const template = JSON.parse(await readFile(join(PROJECT, TEMPLATE_FILE), 'utf8')) as CfnTemplate;
  const charge = template.Resources.ChargeOrderLambdaFunction?.Properties;
  const billing = template.Resources.BillingQueue?.Properties as { VisibilityTimeout: number; RedrivePolicy: { maxReceiveCount: number } } | undefined;
  if (!charge || !billing) throw new Error('the template has no ChargeOrderLambdaFunction or BillingQueue');
  charge.Timeout = 2;
  billing.VisibilityTimeout = 6 * 2 + 1;
  billing.RedrivePolicy.maxReceiveCount = 2;
  const path = join(dir, 'template.json');
  await writeFile(path, JSON.stringify(template));
  return path;
}

describe('npm run dlq on the local cloud', () => {
  let t: CloudUnderTest;
  let dir: string;
  let templatePath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orderflow-dlq-'));
    // Package (if stale) and load the bundles under the project's packaging lock, as startLocalCloud does.
    const unlock = await lockPackaging(PROJECT, () => {});
    try {
      await packageIfStale(PROJECT, 'local', () => {});
      templatePath = await fastBillingTemplate(dir);
      t = await startCloudForTests('dlq', { skipPackage: true, templatePath, projectDir: PROJECT });
    } finally {
      await unlock();
    }
  });

  afterAll(async () => {
    await t?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach((context) => {
    if (context.task.result?.state !== 'fail') return;
    const lines = t.logs.filter((line) => !line.includes('No application metrics')).slice(-80);
    console.log(`last local cloud log lines:\n${lines.map((line) => line.slice(0, 500)).join('\n')}`);
  });

  const cli = async (...argv: string[]): Promise<CliRun> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDlq([...argv, '--endpoint', t.cloud.edgeUrl, '--template', templatePath], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      isTTY: false,
      env: { LOCAL_CLOUD_TOKEN: t.cloud.token },
      cwd: PROJECT,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const listed = async (): Promise<ListedDlq[]> => JSON.parse((await cli('list', '--json')).out) as ListedDlq[];
  const peeked = async (queue: string, n = 10): Promise<PeekedMessage[]> => (JSON.parse((await cli('peek', queue, '-n', String(n), '--json')).out) as { messages: PeekedMessage[] }).messages;
  const setFaults = async (faults: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${t.cloud.edgeUrl}/_local/faults`, { method: 'POST', headers: controlHeaders(t.cloud.token), body: JSON.stringify(faults) });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };
  /** Receives and deletes everything, one receive at a time (a FIFO group is held until the batch received of it is deleted). */
  const drainInOrder = async (url: string, expected: number): Promise<Message[]> => {
    const got: Message[] = [];
    await waitFor(async () => {
      const out = await t.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
      for (const message of out.Messages ?? []) {
        got.push(message);
        await t.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
      }
      return got.length >= expected;
    }, { timeoutMs: 10_000, what: `${expected} messages in ${url}` });
    return got;
  };
  const createQueue = async (name: string, fifo = false): Promise<string> =>
    (await t.clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }))).QueueUrl ?? '';

  it('lists every DLQ with what it catches for and where it redrives', async () => {
    // Act
    const dlqs = await listed();
    const text = await cli('list');

    // Assess: every queue's DLQ, every subscription's DLQ (the imports topic's two subscriptions share one), the
    // stream's on-failure queue.
    const expected = [
      'order-store-dlq.fifo',
      'billing-dlq',
      'shipping-dlq',
      'document-events-dlq',
      'stock-requests-dlq',
      'order-store-sub-dlq.fifo',
      'billing-sub-dlq.fifo',
      'shipping-sub-dlq.fifo',
      'analytics-dlq', // slice-line:analytics
      'analytics-sub-dlq.fifo', // slice-line:analytics
      'stream-failures', // slice-line:analytics
      'order-archive-sub-dlq', // slice-line:analytics
      'import-jobs-dlq', // slice-line:imports
      'imports-sub-dlq', // slice-line:imports
      'import-audit-dlq', // slice-line:analytics,imports
      'review-requests-dlq', // slice-line:reviews
    ];
    expect(dlqs.map((d) => d.name).sort()).toEqual(expected.map((name) => `orderflow-local-${name}`).sort());
    // slice-begin:imports
    expect(dlqs.find((d) => d.name === 'orderflow-local-imports-sub-dlq')?.sources.map((source) => source.redriveTarget).sort()).toEqual([
      'orderflow-local-import-audit', // slice-line:analytics
      'orderflow-local-import-jobs',
    ]);
    // slice-end:imports
    expect(dlqs.find((d) => d.name === 'orderflow-local-billing-dlq')?.sources).toEqual([
      { kind: 'queue', source: 'queue orderflow-local-billing (orderflow-local-chargeOrder)', consumer: 'orderflow-local-chargeOrder', redriveTarget: 'orderflow-local-billing', maxReceiveCount: 2 },
    ]);
    expect(dlqs.find((d) => d.name === 'orderflow-local-billing-sub-dlq.fifo')?.sources[0]).toMatchObject({ kind: 'subscription', redriveTarget: 'orderflow-local-billing' });
    expect(dlqs.find((d) => d.name === 'orderflow-local-stream-failures')?.sources[0]).toMatchObject({ kind: 'stream', consumer: 'orderflow-local-orderMetrics' }); // slice-line:analytics
    expect(dlqs.find((d) => d.name === 'orderflow-local-order-store-dlq.fifo')).toMatchObject({ fifo: true, sources: [{ redriveTarget: 'orderflow-local-order-store.fifo' }] });
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/orderflow-local-document-events-dlq\s+\d+\s+\d+/);
  });

  it('standard DLQ: peek does not consume; a failing send deletes nothing; redrive keeps bodies and attributes; purge empties', async () => {
    // Prepare: three failed document events in document-events-dlq
    const dlqUrl = t.queueUrl('DocumentEventsDLQ');
    const target = await createQueue(`dlq-standard-target-${process.pid}`);
    await t.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: [1, 2, 3].map((n) => ({ Id: `m${n}`, MessageBody: JSON.stringify({ job: n }), MessageAttributes: { correlationId: { DataType: 'String', StringValue: `c-${n}` } } })),
      }),
    );

    // Act + Assess: list shows them with an age; peek shows them and leaves them visible
    const entry = (await listed()).find((d) => d.name === 'orderflow-local-document-events-dlq');
    expect(entry).toMatchObject({ visible: 3, inFlight: 0, oldestAgeSeconds: expect.any(Number) });
    const messages = await peeked('document-events-dlq');
    expect(messages.map((m) => m.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([{ job: 1 }, { job: 2 }, { job: 3 }]);
    expect(messages[0]?.messageAttributes.correlationId).toMatch(/^c-\d$/);
    expect((await cli('peek', 'document-events-dlq')).out).toContain('last failure: none recorded');
    expect(await t.queueDepth('DocumentEventsDLQ')).toBe(3);

    // Without a terminal and without --yes, a deleting command refuses
    const refused = await cli('redrive', 'document-events-dlq', '--to', target);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--yes');

    // A send that fails (the target does not exist) deletes nothing, and gives the messages back at once
    const failed = await cli('redrive', 'document-events-dlq', '--to', `${t.cloud.edgeUrl}/000000000000/no-such-queue-${process.pid}`, '--yes');
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('QueueDoesNotExist');
    expect(failed.err).toContain('0 message(s) moved');
    expect((await listed()).find((d) => d.name === 'orderflow-local-document-events-dlq')).toMatchObject({ visible: 3, inFlight: 0 });

    // Redrive, throttled
    const moved = await cli('redrive', 'document-events-dlq', '--to', target, '--max-per-second', '20', '--yes');
    expect(moved).toMatchObject({ code: 0 });
    expect(moved.out).toContain('redrove 3 message(s) from orderflow-local-document-events-dlq');
    // Locally too, a standard queue DLQ is redriven by SQS's own message move task (the edge serves it).
    expect(moved.out).toContain('(SQS message move task)');
    const arrived = await drainInOrder(target, 3);
    expect(arrived.map((m) => JSON.parse(m.Body ?? '{}').job).sort()).toEqual([1, 2, 3]);
    expect(arrived.map((m) => m.MessageAttributes?.correlationId?.StringValue).sort()).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await t.queueDepth('DocumentEventsDLQ')).toBe(0);

    // Purge
    await t.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'b', MessageBody: 'y' }] }));
    expect((await cli('purge', 'document-events-dlq')).code).toBe(2);
    expect(await t.queueDepth('DocumentEventsDLQ')).toBe(2);
    const purged = await cli('purge', 'document-events-dlq', '--yes');
    expect(purged.code).toBe(0);
    await waitFor(async () => (await t.queueDepth('DocumentEventsDLQ')) === 0, { what: 'document-events-dlq purged' });
  });

  it('FIFO DLQ: redrive keeps each MessageGroupId and the order within a group, and deletes nothing when the send fails', async () => {
    // Prepare: order-store-dlq.fifo holds a1, a2, a3 (group A) and b1 (group B)
    const dlqUrl = t.queueUrl('OrderStoreDLQ');
    const target = await createQueue(`dlq-fifo-target-${process.pid}.fifo`, true);
    const entries = [
      ['a1', 'A'],
      ['b1', 'B'],
      ['a2', 'A'],
      ['a3', 'A'],
    ].map(([body, group]) => ({ Id: body as string, MessageBody: body as string, MessageGroupId: `group-${group}-${process.pid}`, MessageDeduplicationId: `${body}-${process.pid}` }));
    await t.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: entries }));

    // Act: a send to a missing FIFO queue fails: nothing deleted
    const failed = await cli('redrive', 'order-store-dlq', '--to', `${t.cloud.edgeUrl}/000000000000/missing-${process.pid}.fifo`, '--yes');
    expect(failed.code).toBe(1);
    expect(await t.queueDepth('OrderStoreDLQ')).toBe(4);
    const peek = await peeked('order-store-dlq.fifo');
    // One receive gives as many of a group as there are (SQS FIFO), so the peek sees all four.
    expect(peek.map((m) => m.groupId).sort()).toEqual([`group-A-${process.pid}`, `group-A-${process.pid}`, `group-A-${process.pid}`, `group-B-${process.pid}`]);

    // Act: the real redrive
    const moved = await cli('redrive', 'order-store-dlq.fifo', '--to', target, '--yes');

    // Assess
    expect(moved.code).toBe(0);
    expect(moved.out).toContain('redrove 4 message(s)');
    const arrived = await drainInOrder(target, 4);
    const bodiesOf = (group: string): string[] => arrived.filter((m) => m.Attributes?.MessageGroupId === `group-${group}-${process.pid}`).map((m) => m.Body ?? '');
    expect(bodiesOf('A')).toEqual(['a1', 'a2', 'a3']);
    expect(bodiesOf('B')).toEqual(['b1']);
    expect(arrived.every((m) => /^[0-9a-f]{64}$/.test(m.Attributes?.MessageDeduplicationId ?? ''))).toBe(true);
    expect(await t.queueDepth('OrderStoreDLQ')).toBe(0);
  });

  it('a poison order lands in its DLQs; poison off, a redrive completes it exactly once', { timeout: 120_000 }, async () => {
    // Prepare: poison fails the consumers for customers poison-*
    const faults = {
      chargeOrder: { poison: true },
      orderMetrics: { poison: true }, // slice-line:analytics
    };
    expect(await setFaults(faults)).toMatchObject({ faults: expect.stringContaining('poison') });
    const customerId = `poison-${uniqueCustomer('dlq')}`;

    // Act
    const placed = await t.api.postOrder(digitalOrder(customerId));
    const orderId = String(placed.body.orderId);

    // Assess: after maxReceiveCount (2) receives, the OrderPlaced event is in billing-dlq, with its reason
    const [dead] = await waitFor(async () => {
      const messages = (await peeked('billing-dlq')).filter((m) => JSON.stringify(m.body).includes(orderId));
      return messages.length > 0 && messages;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the poison order in billing-dlq' });
    expect(dead?.receiveCount).toBeGreaterThanOrEqual(2);
    expect(dead?.reason).toContain(`PoisonOrderError: Poison order of customer ${customerId} always fails orderflow-local-chargeOrder`);
    expect(dead?.messageAttributes).toMatchObject({ orderId, type: 'OrderPlaced' });
    // SQS keeps the message id when it moves a message to its DLQ: the id chargeOrder saw is the DLQ's.
    expect(invocationsMentioning(t.invocations, t.functionName('chargeOrder'), dead?.messageId ?? 'none').length).toBeGreaterThanOrEqual(2);
    expect((await t.api.getOrder(orderId)).body).toMatchObject({ status: 'PLACED' });

    // slice-begin:analytics
    // The stream consumer gave up on the record too: its pointer is in stream-failures, with the reason
    const [pointer] = await waitFor(async () => {
      const messages = await peeked('stream-failures');
      return messages.length > 0 && messages;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'a batch pointer in stream-failures' });
    expect(pointer?.reason).toMatch(/RetryAttemptsExhausted|MaximumRetryAttempts|retr/i);
    expect(pointer?.reason).toContain('PoisonOrderError');
    // slice-end:analytics

    // Act: poison off, redrive
    expect(await setFaults({})).toEqual({ faults: '', duplicateDelivery: false });
    const billing = await cli('redrive', 'billing-dlq', '--yes');
    const stream = await cli('redrive', 'stream-failures', '--yes'); // slice-line:analytics

    // Assess: charged once, COMPLETED, one invoice write
    expect(billing).toMatchObject({ code: 0 });
    expect(billing.out).toContain('to orderflow-local-billing');
    // The Orders table (an operator's view: the API answers the customer's allow-listed fields only).
    const order = await waitFor(async () => {
      const item = await t.orderItem(orderId);
      return item?.status === 'COMPLETED' && item.invoiceNotifiedAt !== undefined && item;
    }, { timeoutMs: 30_000, what: `order ${orderId} COMPLETED and notified` });
    expect((order.invoiceWrites as Set<string>).size).toBe(1);
    expect(await t.objectExists(t.names.documentsBucket, `documents/invoices/${orderId}.json`)).toBe(true);
    // slice-begin:analytics
    expect(stream.code, stream.err).toBe(0);
    expect(stream.out).toMatch(/re-invoked orderflow-local-orderMetrics with \d+ record\(s\)/);
    const reinvoked = invocationsMentioning(t.invocations, t.functionName('orderMetrics'), orderId).filter((i) => (i.event as { isFinalInvokeForWindow?: boolean }).isFinalInvokeForWindow && (i.event as { Records: unknown[] }).Records.length > 0);
    expect(reinvoked.at(-1)?.result).toMatchObject({ ok: true, payload: { batchItemFailures: [] } });
    // slice-end:analytics
    expect(await t.queueDepth('BillingDLQ')).toBe(0);
    expect(await t.queueDepth('StreamFailuresQueue')).toBe(0); // slice-line:analytics
  });
});

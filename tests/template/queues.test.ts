import { beforeAll, describe, expect, it } from 'vitest';
import { parseReviewDelays } from '#lib/review-delay.ts'; // slice-line:reviews
import {
  STAGES,
  deadLetterQueueIds,
  deadLetterQueues,
  isFifoQueue,
  kinesisMappings, // slice-line:analytics
  lambdaFunctions, // slice-line:reviews
  queueShortName, // slice-line:reviews
  refId,
  resource,
  sqsMappings,
  targetId, // slice-line:analytics
  workQueueIds,
  type Template,
  loadTemplate,
} from './helpers.ts';

/** The SQS maximum message retention: 14 days. */
const FOURTEEN_DAYS = 14 * 24 * 60 * 60;

describe.each(STAGES)('SQS queues and event source mappings (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
  // (Lift's default and CONVENTIONS.md: maxReceiveCount 3-5; the value is the `maxReceiveCount` stage param.)
  it('every work queue (event source of a Lambda mapping) has a DLQ via RedrivePolicy with maxReceiveCount between 3 and 5, equal to the maxReceiveCount param', () => {
    const queues = workQueueIds(t);
    expect(queues.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const id of queues) {
      const redrive = resource(t, id).Properties?.RedrivePolicy;
      if (!redrive) {
        violations.push(`${id}: no RedrivePolicy`);
        continue;
      }
      const dlq = refId(redrive.deadLetterTargetArn);
      if (!dlq || t.resources[dlq]?.Type !== 'AWS::SQS::Queue') violations.push(`${id}: deadLetterTargetArn is not a queue of this stack`);
      const count = Number(redrive.maxReceiveCount);
      if (!(count >= 3 && count <= 5)) violations.push(`${id}: maxReceiveCount ${redrive.maxReceiveCount} is not within 3..5`);
      if (count !== Number(t.params.maxReceiveCount)) violations.push(`${id}: maxReceiveCount ${redrive.maxReceiveCount} is not the maxReceiveCount param (${String(t.params.maxReceiveCount)})`);
    }
    expect(violations).toEqual([]);
  });

  // MessageRetentionPeriod maximum (1,209,600 s):
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
  it('every DLQ (queue, subscription and Kinesis on-failure) keeps messages 1,209,600 s (14 days, the SQS maximum)', () => {
    const dlqs = deadLetterQueueIds(t);
    expect(dlqs.length).toBeGreaterThan(0);
    const violations = dlqs
      .filter((id) => Number(resource(t, id).Properties?.MessageRetentionPeriod) !== FOURTEEN_DAYS)
      .map((id) => `${id}: MessageRetentionPeriod ${String(resource(t, id).Properties?.MessageRetentionPeriod)}`);
    expect(FOURTEEN_DAYS).toBe(1_209_600);
    expect(violations).toEqual([]);
  });

  // "The dead-letter queue of a FIFO queue must also be a FIFO queue. Similarly, the dead-letter queue of a
  // standard queue must also be a standard queue."
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
  it("a FIFO queue's DLQ is FIFO (and a standard queue's DLQ is standard)", () => {
    const redriven = deadLetterQueues(t).filter((dlq) => dlq.via === 'queue RedrivePolicy');
    expect(redriven.some((dlq) => isFifoQueue(t, dlq.of))).toBe(true);
    const violations = redriven
      .filter((dlq) => isFifoQueue(t, dlq.of) !== isFifoQueue(t, dlq.id))
      .map((dlq) => `${dlq.of} (FIFO: ${isFifoQueue(t, dlq.of)}) → ${dlq.id} (FIFO: ${isFifoQueue(t, dlq.id)})`);
    expect(violations).toEqual([]);
  });

  // "set the source queue's visibility timeout to at least six times the timeout that you configure on your
  // function" plus MaximumBatchingWindowInSeconds:
  // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
  // messaging.yml writes each visibility timeout as 6 × timeout + the default 1 s batching window; a stage that
  // shortens the window (local: 0 s, the batchingWindowSeconds param) keeps the AWS rule (>=) with 1 s to spare.
  it('for every SQS mapping, queue VisibilityTimeout >= 6 × function Timeout + MaximumBatchingWindowInSeconds (= on dev, as messaging.yml documents)', () => {
    const mappings = sqsMappings(t);
    expect(mappings.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const m of mappings) {
      const timeout = Number(resource(t, m.functionId).Properties.Timeout);
      const window = Number(m.props.MaximumBatchingWindowInSeconds ?? 0);
      const visibility = Number(resource(t, m.sourceId).Properties?.VisibilityTimeout);
      const expected = 6 * timeout + window;
      if (!(visibility >= expected)) violations.push(`${m.sourceId}: VisibilityTimeout ${visibility} < 6 × ${timeout} s (${m.functionId}) + ${window} s = ${expected}`);
      else if (stage === 'dev' && visibility !== expected) violations.push(`${m.sourceId}: VisibilityTimeout ${visibility} ≠ 6 × ${timeout} + ${window} = ${expected}, as messaging.yml documents`);
    }
    expect(violations).toEqual([]);
  });

  // ReportBatchItemFailures: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
  // MaximumConcurrency 2..1000: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
  it('every SQS mapping has FunctionResponseTypes ReportBatchItemFailures and ScalingConfig.MaximumConcurrency within 2..1000', () => {
    const mappings = sqsMappings(t);
    expect(mappings.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const m of mappings) {
      if (!(m.props.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures')) violations.push(`${m.id}: no ReportBatchItemFailures`);
      const concurrency = m.props.ScalingConfig?.MaximumConcurrency;
      if (!(Number.isInteger(concurrency) && concurrency >= 2 && concurrency <= 1000)) violations.push(`${m.id}: ScalingConfig.MaximumConcurrency ${JSON.stringify(concurrency)}`);
    }
    expect(violations).toEqual([]);
  });

  // slice-begin:analytics
  // https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html (ReportBatchItemFailures)
  // https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (bisect, retries, on-failure)
  // https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html (tumbling windows, 0-900 s)
  it('every Kinesis mapping has ReportBatchItemFailures, BisectBatchOnFunctionError, finite MaximumRetryAttempts, an SQS OnFailure destination and TumblingWindowInSeconds (the metricsWindowSeconds param)', () => {
    const mappings = kinesisMappings(t);
    expect(mappings.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const m of mappings) {
      if (!(m.props.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures')) violations.push(`${m.id}: no ReportBatchItemFailures`);
      if (m.props.BisectBatchOnFunctionError !== true) violations.push(`${m.id}: BisectBatchOnFunctionError is not true`);
      const retries = m.props.MaximumRetryAttempts;
      if (!(Number.isInteger(retries) && retries >= 0 && retries <= 10_000)) violations.push(`${m.id}: MaximumRetryAttempts ${JSON.stringify(retries)} (-1 or absent retries until the record expires)`);
      const destination = m.props.DestinationConfig?.OnFailure?.Destination;
      if (destination === undefined || t.resources[targetId(destination, m.id)]?.Type !== 'AWS::SQS::Queue') violations.push(`${m.id}: DestinationConfig.OnFailure is not a queue of this stack`);
      const window = m.props.TumblingWindowInSeconds;
      if (!(Number.isInteger(window) && window > 0 && window <= 900)) violations.push(`${m.id}: TumblingWindowInSeconds ${JSON.stringify(window)}`);
      if (window !== Number(t.params.metricsWindowSeconds)) violations.push(`${m.id}: TumblingWindowInSeconds ${JSON.stringify(window)} is not the metricsWindowSeconds param (${String(t.params.metricsWindowSeconds)})`);
    }
    expect(violations).toEqual([]);
  });
  // slice-end:analytics

  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
  it('every work queue long-polls: ReceiveMessageWaitTimeSeconds 20 (the maximum)', () => {
    const queues = workQueueIds(t);
    expect(queues.length).toBeGreaterThan(0);
    const violations = queues
      .filter((id) => Number(resource(t, id).Properties?.ReceiveMessageWaitTimeSeconds) !== 20)
      .map((id) => `${id}: ReceiveMessageWaitTimeSeconds ${String(resource(t, id).Properties?.ReceiveMessageWaitTimeSeconds)}`);
    expect(violations).toEqual([]);
  });

  // slice-begin:reviews
  // DelaySeconds 0-900: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html
  it('the review-requests queue is a delay queue: DelaySeconds 2 on the local stage, 900 on dev (the reviewDelaySeconds param)', () => {
    const expected: Record<string, number> = { local: 2, dev: 900 };
    const reviewQueues = workQueueIds(t).filter((id) => queueShortName(t, id) === 'review-requests');
    expect(reviewQueues).toHaveLength(1);
    const delay = resource(t, reviewQueues[0] as string).Properties?.DelaySeconds;
    expect(Number(delay)).toBe(expected[stage]);
    expect(Number(delay)).toBe(Number(t.params.reviewDelaySeconds));
  });

  // A message's DelaySeconds overrides the queue's, within the same 0-900 (SQS API reference, SendMessage).
  it("shipOrder's per-country review delays (REVIEW_DELAY_BY_COUNTRY, the reviewDelayByCountry param) are each a DelaySeconds SQS accepts, and differ from the queue's", () => {
    const shipOrder = lambdaFunctions(t).find(({ name }) => name === 'shipOrder');
    const variable = shipOrder?.props.Environment?.Variables?.REVIEW_DELAY_BY_COUNTRY as string | undefined;
    expect(variable).toBe(t.params.reviewDelayByCountry);
    const delays = parseReviewDelays(variable ?? '');
    expect(Object.keys(delays).length).toBeGreaterThan(0);
    for (const seconds of Object.values(delays)) expect(seconds).not.toBe(Number(t.params.reviewDelaySeconds));
  });
  // slice-end:reviews
});

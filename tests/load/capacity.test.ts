import { describe, expect, it } from 'vitest';
import { capacityConfigFromTemplate, messagesPerOrder, ORDERFLOW_EMISSIONS, predictCapacity, type CapacityConfig, type MappingSpec } from '../../scripts/load/capacity.ts';

const mapping = (over: Partial<MappingSpec> & Pick<MappingSpec, 'fn' | 'queue'>): MappingSpec => ({
  queueLogicalId: `${over.queue}Queue`,
  fifo: false,
  highThroughputFifo: false,
  batchSize: 10,
  batchingWindowS: 0,
  maximumConcurrency: undefined,
  delayS: 0,
  ...over,
});

/** One queue subscribed to every event, consumed by `work`. */
const oneQueue = (over: Partial<MappingSpec> = {}, config: Partial<CapacityConfig> = {}): CapacityConfig => ({
  mappings: [mapping({ fn: 'work', queue: 'jobs', ...over })],
  functions: { work: { timeoutS: 10, reservedConcurrency: undefined, memoryMb: 512 } },
  subscriptions: [{ queue: 'jobs', filter: undefined }],
  topic: undefined,
  api: undefined,
  kinesis: undefined,
  ...config,
});

describe('Function: capacityConfigFromTemplate', () => {
  it('reads mappings, FIFO throughput settings, filters, stage throttling and the stream mode', () => {
    // Prepare
    const template = {
      Resources: {
        WorkLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Timeout: 20, MemorySize: 256, ReservedConcurrentExecutions: 3 } },
        StoreQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-dev-store.fifo', FifoQueue: true, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } },
        DelayedQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-dev-delayed', DelaySeconds: 2 } },
        SubQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': '${AWS::StackName}-sub' } } },
        WorkMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            BatchSize: 25,
            MaximumBatchingWindowInSeconds: 1,
            EventSourceArn: { 'Fn::GetAtt': ['StoreQueue', 'Arn'] },
            FunctionName: { 'Fn::GetAtt': ['WorkLambdaFunction', 'Arn'] },
            ScalingConfig: { MaximumConcurrency: 4 },
          },
        },
        Topic: { Type: 'AWS::SNS::Topic', Properties: { FifoTopic: true, FifoThroughputScope: 'MessageGroup' } },
        Sub: { Type: 'AWS::SNS::Subscription', Properties: { Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['DelayedQueue', 'Arn'] }, FilterPolicy: { type: ['OrderPlaced'] } } },
        Sub2: { Type: 'AWS::SNS::Subscription', Properties: { Protocol: 'sqs', Endpoint: { Ref: 'SubQueue' } } },
        Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { DefaultRouteSettings: { ThrottlingRateLimit: 1200, ThrottlingBurstLimit: 2500 } } },
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: { StreamModeDetails: { StreamMode: 'ON_DEMAND' } } },
      },
    };

    // Act
    const config = capacityConfigFromTemplate(template);

    // Assess
    expect(config.mappings).toEqual([
      {
        fn: 'work',
        queue: 'store',
        queueLogicalId: 'StoreQueue',
        fifo: true,
        highThroughputFifo: true,
        batchSize: 25,
        batchingWindowS: 1,
        maximumConcurrency: 4,
        delayS: 0,
      },
    ]);
    expect(config.functions.work).toEqual({ timeoutS: 20, reservedConcurrency: 3, memoryMb: 256, topics: [] });
    expect(config.subscriptions).toEqual([
      { queue: 'delayed', filter: { type: ['OrderPlaced'] } },
      { queue: 'SubQueue', filter: undefined }, // a QueueName built with Fn::Sub: the logical id
    ]);
    expect(config.topic).toEqual({ fifo: true, scope: 'MessageGroup' });
    expect(config.api).toEqual({ rateLimit: 1200, burstLimit: 2500 });
    expect(config.kinesis).toEqual({ onDemand: true, shards: 1 });
  });

  it("reads a provisioned stream's shard count from the template's Fn::If on the on-demand condition", () => {
    // Prepare
    const stream = (mode: string): Parameters<typeof capacityConfigFromTemplate>[0] => ({
      Resources: {
        Stream: {
          Type: 'AWS::Kinesis::Stream',
          Properties: { StreamModeDetails: { StreamMode: mode }, ShardCount: { 'Fn::If': ['OnDemand', { Ref: 'AWS::NoValue' }, 3] } },
        },
      },
    });

    // Act
    const provisioned = capacityConfigFromTemplate(stream('PROVISIONED'));
    const onDemand = capacityConfigFromTemplate(stream('ON_DEMAND'));

    // Assess
    expect(provisioned.kinesis).toEqual({ onDemand: false, shards: 3 });
    expect(onDemand.kinesis?.onDemand).toBe(true);
  });

  it('reads ProvisionedPollerConfig, and names the resource when it is out of range or set with MaximumConcurrency', () => {
    // Prepare
    const template = (properties: Record<string, unknown>): Parameters<typeof capacityConfigFromTemplate>[0] => ({
      Resources: {
        Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'a-b-q' } },
        M: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] }, FunctionName: { Ref: 'FLambdaFunction' }, ...properties } },
      },
    });

    // Act and assess
    expect(capacityConfigFromTemplate(template({ ProvisionedPollerConfig: { MinimumPollers: 3, MaximumPollers: 40 } })).mappings[0]?.provisionedPollers).toEqual({ minimum: 3, maximum: 40 });
    expect(capacityConfigFromTemplate(template({ ProvisionedPollerConfig: {} })).mappings[0]?.provisionedPollers).toEqual({ minimum: undefined, maximum: undefined });
    expect(() => capacityConfigFromTemplate(template({ ProvisionedPollerConfig: { MinimumPollers: 1 } }))).toThrow('Resources.M.Properties.ProvisionedPollerConfig.MinimumPollers must be an integer from 2 to 200');
    expect(() => capacityConfigFromTemplate(template({ ProvisionedPollerConfig: { MaximumPollers: 10_001 } }))).toThrow('ProvisionedPollerConfig.MaximumPollers must be an integer from 2 to 10000');
    expect(() => capacityConfigFromTemplate(template({ ProvisionedPollerConfig: { MinimumPollers: 2 }, ScalingConfig: { MaximumConcurrency: 5 } }))).toThrow('Resources.M.Properties sets both ScalingConfig.MaximumConcurrency and ProvisionedPollerConfig');
  });

  it('names the resource at fault for a batch size below 1', () => {
    const template = {
      Resources: {
        Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'a-b-q' } },
        M: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { BatchSize: 0, EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] }, FunctionName: { Ref: 'FLambdaFunction' } } },
      },
    };
    expect(() => capacityConfigFromTemplate(template)).toThrow('Resources.M.Properties.BatchSize');
  });
});

/**
 * Two topics as in serverless.yml: the order events topic placeOrder publishes to (its TOPIC_ARN), with billing
 * subscribed, and a second topic S3 uploads publish to (the imports fan-out in serverless.yml), with two queues subscribed
 * unfiltered.
 */
const twoTopics = {
  Resources: {
    PlaceOrderLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { STAGE: 'dev', TOPIC_ARN: { Ref: 'OrderEventsTopic' } } } } },
    ChargeOrderLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { TOPIC_ARN: { Ref: 'OrderEventsTopic' } } } } },
    ProcessUploadLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { TOPIC_ARN: { Ref: 'OrderEventsTopic' } } } } },
    CheckUploadLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: {} },
    OrderEventsTopic: { Type: 'AWS::SNS::Topic', Properties: { FifoTopic: true, FifoThroughputScope: 'MessageGroup' } },
    UploadsTopic: { Type: 'AWS::SNS::Topic', Properties: {} },
    BillingQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-dev-billing' } },
    UploadJobsQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-dev-upload-jobs' } },
    UploadAuditQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-dev-upload-audit' } },
    BillingSubscription: { Type: 'AWS::SNS::Subscription', Properties: { TopicArn: { Ref: 'OrderEventsTopic' }, Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['BillingQueue', 'Arn'] }, FilterPolicy: { type: ['OrderPlaced'] } } },
    UploadJobsSubscription: { Type: 'AWS::SNS::Subscription', Properties: { TopicArn: { Ref: 'UploadsTopic' }, Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['UploadJobsQueue', 'Arn'] } } },
    UploadAuditSubscription: { Type: 'AWS::SNS::Subscription', Properties: { TopicArn: { Ref: 'UploadsTopic' }, Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['UploadAuditQueue', 'Arn'] } } },
    ...Object.fromEntries(
      [
        ['ChargeOrder', 'BillingQueue'],
        ['ProcessUpload', 'UploadJobsQueue'],
        ['CheckUpload', 'UploadAuditQueue'],
      ].map(([fn, queue]) => [`${fn}Mapping`, { Type: 'AWS::Lambda::EventSourceMapping', Properties: { BatchSize: 10, EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] }, FunctionName: { 'Fn::GetAtt': [`${fn}LambdaFunction`, 'Arn'] }, ScalingConfig: { MaximumConcurrency: 2 } } }]),
    ),
  },
};

describe('Order events reach only the order events topic\'s queues', () => {
  it('reads each subscription\'s topic and the topic placeOrder publishes to', () => {
    const config = capacityConfigFromTemplate(twoTopics);
    expect(config.orderEventsTopic).toBe('OrderEventsTopic');
    expect(config.functions.placeOrder?.topics).toEqual(['OrderEventsTopic']);
    expect(config.subscriptions.map((s) => `${s.topic}:${s.queue}`)).toEqual(['OrderEventsTopic:billing', 'UploadsTopic:upload-jobs', 'UploadsTopic:upload-audit']);
    expect(config.topic).toEqual({ fifo: true, scope: 'MessageGroup' });
  });

  it('sends no order to the uploads fan-out and assumes no duration for its consumers', () => {
    // Prepare: an order spike through the API; only chargeOrder was measured (the uploads' consumers never ran).
    const config = capacityConfigFromTemplate(twoTopics);

    // Act
    const perOrder = messagesPerOrder(config, 0.7, ORDERFLOW_EMISSIONS);
    const prediction = predictCapacity({ config, arrivals: [100, 100], physicalShare: 0.7, durations: { chargeOrder: { meanDurationMs: 10, invocationsPerOrder: 1 } }, drainFromS: 2 });

    // Assess: billing gets the order, document-events chargeOrder's invoice; the uploads queues nothing.
    expect(perOrder.queues).toEqual({ billing: 1, 'document-events': 1 });
    const depth = Object.fromEntries(prediction.queues.map((q) => [q.queue, q.peakDepth]));
    expect(depth).toEqual({ billing: 0, 'upload-jobs': 0, 'upload-audit': 0 });
    expect(prediction.functions.find((f) => f.fn === 'processUpload')?.peak).toBe(0);
    expect(prediction.assumptions.filter((a) => /^(processUpload|checkUpload):/.test(a))).toEqual([]);
  });
});

describe('Function: messagesPerOrder', () => {
  it('follows orderflow\'s fan-out through the filter policies (hand-computed for 70 % physical)', () => {
    // Prepare: the stage's subscriptions and consumers.
    const config: CapacityConfig = {
      mappings: [
        'order-store:recordOrderEvent',
        'billing:chargeOrder',
        'shipping:shipOrder',
        'analytics:streamOrderEvents', // slice-line:analytics
        'document-events:notifyCustomer',
        'review-requests:requestReview', // slice-line:reviews
      ].map((pair) => {
        const [queue, fn] = pair.split(':') as [string, string];
        return mapping({ queue, fn });
      }),
      functions: {},
      subscriptions: [
        { queue: 'order-store', filter: undefined },
        { queue: 'billing', filter: { type: ['OrderPlaced'] } },
        { queue: 'shipping', filter: { type: ['OrderPlaced'], fulfillment: ['physical'] } },
        { queue: 'analytics', filter: undefined }, // slice-line:analytics
      ],
      topic: undefined,
      api: undefined,
      kinesis: undefined,
    };

    // Act
    const perOrder = messagesPerOrder(config, 0.7, ORDERFLOW_EMISSIONS);

    // Assess: every order is placed and charged; 0.7 are shipped.
    expect(perOrder.queues['order-store']).toBeCloseTo(2.7);
    expect(perOrder.queues.billing).toBeCloseTo(1);
    expect(perOrder.queues.shipping).toBeCloseTo(0.7);
    expect(perOrder.queues.analytics).toBeCloseTo(2.7); // slice-line:analytics
    expect(perOrder.queues['document-events']).toBeCloseTo(1.7); // an invoice each, a label for 0.7
    expect(perOrder.queues['review-requests']).toBeCloseTo(0.7); // slice-line:reviews
    expect(perOrder.kinesisRecords).toBeCloseTo(2.7); // slice-line:analytics
    expect(perOrder.physical.shipping).toBeCloseTo(0.7);
  });
});

describe('Function: predictCapacity', () => {
  it('drains a queue capped at MaximumConcurrency 2 at 2 x 1,000 / perMessageMs messages a second', () => {
    // Prepare: 10 messages at t=0; 5,000 ms per invocation of 10 messages (0.1 invocations per 1-message order) = 500 ms a message.
    const config = oneQueue({ maximumConcurrency: 2 });

    // Act
    const prediction = predictCapacity({ config, arrivals: [10], physicalShare: 0, durations: { work: { meanDurationMs: 5000, invocationsPerOrder: 0.1 } }, drainFromS: 1, emissions: {} });

    // Assess: 4 messages/s: 10 -> 6 -> 2 -> 0.
    const queue = prediction.queues[0];
    expect(queue?.perMessageMs).toBe(500);
    expect(queue?.maxConcurrency).toBe(2);
    expect(queue?.depth).toEqual([6, 2, 0]);
    expect(queue?.peakDepth).toBe(6);
    expect(queue?.drainedAtS).toBe(2);
    expect(queue?.drainTimeS).toBe(1);
    expect(queue?.workEndsAtS).toBe(2.5); // 2 messages in the third second at 4/s
    expect(prediction.functions.find((f) => f.fn === 'work')?.concurrency).toEqual([2, 2, 1]);
    expect(prediction.throttles).toEqual([]);
  });

  it('scales a standard queue\'s mapping from 5 batches by 300 a minute (+5 a second)', () => {
    // Prepare: 100 messages, 1 s each, no cap.
    const config = oneQueue();

    // Act
    const prediction = predictCapacity({ config, arrivals: [100], physicalShare: 0, durations: { work: { meanDurationMs: 1000, invocationsPerOrder: 1 } }, drainFromS: 0, emissions: {} });

    // Assess: 5, 10, 15, 20, 25 processed; 25 left for 30 slots in the 6th second.
    expect(prediction.queues[0]?.depth).toEqual([95, 85, 70, 50, 25, 0]);
    expect(prediction.queues[0]?.drainedAtS).toBe(5);
    expect(prediction.functions.find((f) => f.fn === 'work')?.concurrency).toEqual([5, 10, 15, 20, 25, 25]);
    expect(prediction.horizonS).toBe(6);
  });

  it('admits arrivals through the stage\'s token bucket and counts the 429s', () => {
    // Prepare: rate 100/s, burst 150; 200, 200, 50 arrive.
    const config = oneQueue({}, { api: { rateLimit: 100, burstLimit: 150 } });

    // Act
    const prediction = predictCapacity({ config, arrivals: [200, 200, 50], physicalShare: 0, durations: { work: { meanDurationMs: 1 } }, drainFromS: 0, emissions: {} });

    // Assess: the full bucket (150), then the refill (100), then 50 of the next 100.
    expect(prediction.api?.accepted).toEqual([150, 100, 50]);
    expect(prediction.api?.throttled).toBe(150);
    expect(prediction.throttles).toEqual([expect.objectContaining({ where: 'API Gateway stage', peak: 200, seconds: 2, firstAtS: 0 })]);
  });

  it('flags a FIFO queue\'s 300 SendMessage/s, and not a high-throughput one\'s', () => {
    const arrivals = [400];
    const durations = { work: { meanDurationMs: 1 } };
    const plain = predictCapacity({ config: oneQueue({ fifo: true }), arrivals, physicalShare: 0, durations, drainFromS: 0, emissions: {} });
    const high = predictCapacity({ config: oneQueue({ fifo: true, highThroughputFifo: true }), arrivals, physicalShare: 0, durations, drainFromS: 0, emissions: {} });
    expect(plain.throttles.map((t) => t.where)).toContain('SQS FIFO jobs SendMessage');
    expect(high.throttles).toEqual([]);
  });

  it('flags a shard\'s 1,000 records/s and 1 MB/s', () => {
    // Prepare: 1,500 messages processed in the first second, one 1 KiB record each.
    const config = oneQueue({}, { kinesis: { onDemand: false, shards: 1 } });
    config.mappings[0] = mapping({ fn: 'work', queue: 'jobs', maximumConcurrency: 2 });

    // Act: 1 ms a message, 2 slots = 2,000 messages/s.
    const prediction = predictCapacity({ config, arrivals: [1500], physicalShare: 0, durations: { work: { meanDurationMs: 1 } }, drainFromS: 0, emissions: { work: [{ kinesisRecord: true }] }, kinesisRecordBytes: 1024 });

    // Assess: 1,500 records and 1,536,000 bytes in one second.
    expect(prediction.throttles.find((t) => t.where === 'Kinesis records/s')).toMatchObject({ peak: 1500, seconds: 1 });
    expect(prediction.throttles.find((t) => t.where === 'Kinesis bytes/s')).toMatchObject({ peak: 1_536_000, seconds: 1 });
  });

  it('delivers to a delay queue DelaySeconds later, from the consumer\'s output a second later', () => {
    // Prepare: `work` sends one message on to `later` (DelaySeconds 2) per message.
    const config: CapacityConfig = {
      ...oneQueue(),
      mappings: [mapping({ fn: 'work', queue: 'jobs' }), mapping({ fn: 'after', queue: 'later', delayS: 2 })],
    };

    // Act
    const prediction = predictCapacity({ config, arrivals: [1], physicalShare: 0, durations: { work: { meanDurationMs: 10 }, after: { meanDurationMs: 10 } }, drainFromS: 0, emissions: { work: [{ queue: 'later' }] } });

    // Assess: processed at t=0, sent at t=1, visible at t=3.
    const after = prediction.functions.find((f) => f.fn === 'after');
    expect(after?.concurrency).toEqual([0, 0, 0, 0.01]);
  });

  it('starts a provisioned mapping at MinimumPollers x 10 and grows it by 1,000 a minute up to MaximumPollers x 10', () => {
    // Prepare: 1,000 messages of 1 s each; 2 to 10 pollers (20 to 100 concurrent invokes), and the same queue in standard mode.
    const arrivals = [1000];
    const durations = { work: { meanDurationMs: 1000, invocationsPerOrder: 1 } };

    // Act
    const provisioned = predictCapacity({ config: oneQueue({ provisionedPollers: { minimum: 2, maximum: 10 } }), arrivals, physicalShare: 0, durations, drainFromS: 0, emissions: {} });
    const standard = predictCapacity({ config: oneQueue(), arrivals, physicalShare: 0, durations, drainFromS: 0, emissions: {} });

    // Assess: 20, then +16.67 a second (1,000/min), capped at 100 from the 6th second: 1,000 messages done in 12 s.
    const concurrency = provisioned.functions.find((f) => f.fn === 'work')?.concurrency ?? [];
    expect(concurrency.slice(0, 7)).toEqual([20, 36.67, 53.33, 70, 86.67, 100, 100]);
    expect(provisioned.queues[0]?.maxConcurrency).toBe(100);
    expect(provisioned.queues[0]?.drainedAtS).toBe(12);
    // Standard mode: 5, 10, 15, ... (+300/min): 1,000 messages need 19 s.
    expect(standard.queues[0]?.drainedAtS).toBe(19);
    expect(provisioned.assumptions[0]).toMatch(/^work: provisioned mode, 2 to 10 event pollers x 10 concurrent invokes each: starts at 20, grows by 1000\/min/);
  });

  it('takes AWS\'s defaults (2 and 200 pollers) for a ProvisionedPollerConfig without bounds, and reserved concurrency still caps it', () => {
    const durations = { work: { meanDurationMs: 1000 } };
    const open = predictCapacity({ config: oneQueue({ provisionedPollers: { minimum: undefined, maximum: undefined } }), arrivals: [10], physicalShare: 0, durations, drainFromS: 0, emissions: {} });
    const reserved = predictCapacity({
      config: oneQueue({ provisionedPollers: { minimum: 2, maximum: 10 } }, { functions: { work: { timeoutS: 10, reservedConcurrency: 8, memoryMb: 512 } } }),
      arrivals: [16],
      physicalShare: 0,
      durations,
      drainFromS: 0,
      emissions: {},
    });
    expect(open.queues[0]?.maxConcurrency).toBe(2000);
    expect(open.queues[0]?.depth).toEqual([0]); // 20 invokes at once
    expect(reserved.queues[0]?.maxConcurrency).toBe(8);
    expect(reserved.queues[0]?.depth).toEqual([8, 0]);
    expect(reserved.throttles.map((t) => t.where)).toContain('Lambda work');
  });

  it('drains a FIFO queue\'s hot message group one invocation at a time, whatever the group count says', () => {
    // Prepare: 40 messages of 1 s each over two groups, 3/4 and 1/4; the mapping may run 10 batches.
    const config = oneQueue({ fifo: true, highThroughputFifo: true, maximumConcurrency: 10 });
    const durations = { work: { meanDurationMs: 1000, invocationsPerOrder: 1 } };

    // Act
    const prediction = predictCapacity({ config, arrivals: [40], physicalShare: 0, durations, drainFromS: 0, emissions: {}, messageGroups: { kind: 'weighted', weights: [3, 1] } });

    // Assess: one message a second per group: the cold group's 10 are done after 10 s, the hot group's 30 after 30 s
    // (2 groups x 10 slots would have said 20 s).
    const queue = prediction.queues[0];
    expect(queue?.depth.slice(0, 11)).toEqual([38, 36, 34, 32, 30, 28, 26, 24, 22, 20, 19]);
    expect(queue?.drainedAtS).toBe(29);
    expect(queue?.workEndsAtS).toBe(30);
    expect(queue?.groupBoundS).toBe(29); // the last message alone needs no more than its group's one slot
    const concurrency = prediction.functions.find((f) => f.fn === 'work')?.concurrency ?? [];
    expect(Math.max(...concurrency)).toBe(2);
    expect(concurrency.slice(10)).toEqual(Array.from({ length: 20 }, () => 1));
    expect(prediction.throttles).toEqual([expect.objectContaining({ where: 'SQS FIFO jobs message groups', peak: 2, seconds: 29, firstAtS: 0 })]);
  });

  it('gives a FIFO queue of per-order groups the standard ramp (every waiting message is a different order\'s), and a single group one invocation', () => {
    // Prepare: 100 messages of 1 s each, as in the standard-queue ramp above.
    const durations = { work: { meanDurationMs: 1000, invocationsPerOrder: 1 } };
    const run = (messageGroups?: Parameters<typeof predictCapacity>[0]['messageGroups']) =>
      predictCapacity({ config: oneQueue({ fifo: true, highThroughputFifo: true }), arrivals: [100], physicalShare: 0, durations, drainFromS: 0, emissions: {}, ...(messageGroups ? { messageGroups } : {}) });

    // Act
    const perOrder = run();
    const single = run({ kind: 'weighted', weights: [1] });

    // Assess
    expect(perOrder.queues[0]?.depth).toEqual([95, 85, 70, 50, 25, 0]);
    expect(perOrder.queues[0]?.groupBoundS).toBe(0);
    expect(perOrder.throttles).toEqual([]);
    expect(perOrder.assumptions.some((a) => a.includes('one group per order (MessageGroupId = orderId, lib/aws/publish.ts)'))).toBe(true);
    expect(single.queues[0]?.drainedAtS).toBe(99);
    expect(Math.max(...(single.functions.find((f) => f.fn === 'work')?.concurrency ?? []))).toBe(1);
  });

  it('names messageGroups.weights when they cannot be shares', () => {
    const input = { config: oneQueue({ fifo: true }), arrivals: [1], physicalShare: 0, durations: {}, drainFromS: 0, emissions: {} };
    expect(() => predictCapacity({ ...input, messageGroups: { kind: 'weighted', weights: [] } })).toThrow('messageGroups.weights must be non-negative numbers with a positive sum, got []');
    expect(() => predictCapacity({ ...input, messageGroups: { kind: 'weighted', weights: [1, -1] } })).toThrow('messageGroups.weights');
  });

  it('caps a mapping at the function\'s reserved concurrency and says the mapping would be throttled', () => {
    const config = oneQueue({ maximumConcurrency: 10 }, { functions: { work: { timeoutS: 10, reservedConcurrency: 3, memoryMb: 512 } } });
    const prediction = predictCapacity({ config, arrivals: [30], physicalShare: 0, durations: { work: { meanDurationMs: 1000 } }, drainFromS: 0, emissions: {} });
    expect(prediction.queues[0]?.maxConcurrency).toBe(3);
    expect(prediction.queues[0]?.depth).toEqual([27, 24, 21, 18, 15, 12, 9, 6, 3, 0]);
    expect(prediction.throttles.map((t) => t.where)).toContain('Lambda work');
  });
});

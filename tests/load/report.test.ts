import { describe, expect, it } from 'vitest';
import { account } from '../../scripts/load/accounting.ts';
import { renderHtml, scriptJson } from '../../scripts/load/html.ts';
import type { QueueSample } from '../../scripts/load/observe.ts';
import { predictForReport } from '../../scripts/load/prediction.ts';
import { buildReport, queuesDrainedAt, REPORT_SCHEMA, type ReportInput } from '../../scripts/load/report.ts';
import { formatSummary } from '../../scripts/load/run.ts';
import { parseScenario } from '../../scripts/load/scenario.ts';
import type { QueueInfo } from '../../scripts/load/target.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const queues: QueueInfo[] = [
  { logicalId: 'BillingQueue', name: 'orderflow-local-billing', url: 'http://127.0.0.1/000000000000/orderflow-local-billing', role: 'work', consumer: 'ChargeOrder' },
  { logicalId: 'BillingDLQ', name: 'orderflow-local-billing-dlq', url: 'http://127.0.0.1/000000000000/orderflow-local-billing-dlq', role: 'dlq' },
];
const sample = (t: number, visible: number, inFlight = 0): QueueSample => ({
  t,
  depths: { 'orderflow-local-billing': { visible, inFlight, delayed: 0 }, 'orderflow-local-billing-dlq': { visible: 0, inFlight: 0, delayed: 0 } },
  backlog: visible + inFlight,
  waiting: visible,
  dlq: 0,
});

/** A small spike run: 4 orders, one of them not sent, one answered 503. */
function input(): ReportInput {
  const scenario = parseScenario({ name: 'tiny', phases: [{ type: 'steady', rate: 2, duration: '1s' }, { type: 'spike', rate: 4, duration: '1s' }] }, 'tiny.yml');
  const orders = [
    { orderId: 'a', sentEpochMs: T0 + 1, acceptedEpochMs: T0 + 21 },
    { orderId: 'b', sentEpochMs: T0 + 500, acceptedEpochMs: T0 + 540 },
    { orderId: 'c', sentEpochMs: T0 + 1000, acceptedEpochMs: T0 + 1100 },
  ];
  const items = orders.map((o, i) => ({ orderId: o.orderId, status: 'COMPLETED', fulfillment: 'physical', completedAt: new Date(T0 + 2000 + i * 500).toISOString(), invoiceWrites: 1, labelWrites: 1 }));
  const accounting = account(orders, items, { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 });
  return {
    scenario,
    runId: 'r1',
    command: 'npm run load -- tiny',
    startEpochMs: T0,
    endEpochMs: T0 + 6000,
    target: { kind: 'local-in-process', description: 'local cloud started in-process', apiUrl: 'http://127.0.0.1:1', region: 'us-east-1', stage: 'local', stackName: 'orderflow-local' },
    records: [
      { seq: 0, phase: 0, intendedMs: 0, sentMs: 1, respondedMs: 21, status: 202, orderId: 'a' },
      { seq: 1, phase: 0, intendedMs: 500, sentMs: 500, respondedMs: 540, status: 202, orderId: 'b' },
      { seq: 2, phase: 1, intendedMs: 1000, sentMs: 1000, respondedMs: 1100, status: 202, orderId: 'c' },
      { seq: 3, phase: 1, intendedMs: 1250, notSent: true },
      { seq: 4, phase: 1, intendedMs: 1500, sentMs: 1500, respondedMs: 1530, status: 503 },
    ],
    phases: [
      { phase: 0, type: 'steady', startMs: 0, endMs: 1000, arrivals: 2, endedByDrain: false },
      { phase: 1, type: 'spike', startMs: 1000, endMs: 2000, arrivals: 3, endedByDrain: false },
    ],
    sender: { offered: 5, sent: 4, notSent: 1, maxSendLagMs: 1 },
    accounting,
    clockOffsetMs: 0.4,
    clockOffsetApplied: false,
    acceptedBeforeDrainFrom: new Set(['a', 'b', 'c']),
    completionByOrder: new Map(items.map((item) => [item.orderId, Date.parse(item.completedAt)])),
    queues,
    queueSamples: [sample(0, 0), sample(1000, 5, 2), sample(2000, 3, 4), sample(3000, 0, 1), sample(4000, 0), sample(5000, 0)],
    samplesFailed: 0,
    sampleIntervalMs: 1000,
    memorySamples: [{ t: 0, rssBytes: 300 * 1024 ** 2, peakRssBytes: 300 * 1024 ** 2 }],
    // main: 50 % busy in the steady second, 90 % in the spike's, 20 % after; emulators sampled from 1 s on.
    eventLoopSamples: [
      { t: 0, eventLoops: { main: { activeMs: 100, idleMs: 100 } } },
      { t: 1000, eventLoops: { main: { activeMs: 600, idleMs: 600 }, emulators: { activeMs: 0, idleMs: 0 } } },
      { t: 2000, eventLoops: { main: { activeMs: 1500, idleMs: 700 }, emulators: { activeMs: 300, idleMs: 700 } } },
      { t: 3000, eventLoops: { main: { activeMs: 1700, idleMs: 1500 }, emulators: { activeMs: 400, idleMs: 1600 } } },
    ],
    peakRssBytes: 320 * 1024 ** 2,
    cpuMs: 900,
    loadAverage: { start: [0.5, 0.4, 0.3], end: [0.6, 0.4, 0.3] },
    statsDelta: {
      aws: { sqs: { ReceiveMessage: 30, DeleteMessageBatch: 6 }, sns: { Publish: 8 } },
      functions: { 'orderflow-local-placeOrder': { invocations: 4, errors: 0, timeouts: 0, throttles: 0, memoryMb: 512, totalMs: 80 } },
    },
    scan: { pages: 1, itemsScanned: 3, ms: 5 },
    drainDeadlineMs: 60_000,
    notes: ['a note with <markup> & "quotes"'],
  };
}

describe('Load report: the JSON document and its HTML page', () => {
  it('builds the counts, latencies, drain and requests per order', () => {
    // Act
    const report = buildReport(input());

    // Assess
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.counts).toMatchObject({ offered: 5, sent: 4, notSent: 1, accepted: 3, rejected: 0, http5xx: 1, networkErrors: 0, completed: 3, lost: 0, duplicated: 0 });
    expect(report.latency.api).toMatchObject({ count: 4 });
    expect(report.latency.api?.max).toBeCloseTo(100, 0);
    expect(report.latency.orderToCompleted?.count).toBe(3);
    expect(report.queues).toMatchObject({ peakBacklog: 7, peakBacklogAtMs: 1000, peakDlq: 0 });
    expect(report.drain).toMatchObject({ fromMs: 2000, fromWhat: 'spike end', queuesDrainedAtMs: 3000, lastCompletionMs: 3000, drainTimeMs: 1000 });
    expect(report.aws.requestsPerOrder).toEqual({ sqs: 12, sns: 2.667 });
    expect(report.functions).toEqual({ 'orderflow-local-placeOrder': { invocations: 4, errors: 0, timeouts: 0, throttles: 0, memoryMb: 512, meanDurationMs: 20, invocationsPerOrder: 1.333 } });
    expect(report.cpu).toEqual({ ms: 900, msPerOrder: 300 });
    // drain: from the spike's end (2 s) to the drain (3 s)
    expect(report.eventLoops).toEqual({ main: { run: 0.533, spike: 0.9, drain: 0.2 }, emulators: { run: 0.2, spike: 0.3, drain: 0.1 } });
    expect(report.verdict).toEqual({ pass: false, failures: ['1 HTTP 5xx answer(s)'] });
    expect(report.aims.map((aim) => [aim.name, aim.pass])).toEqual([
      ['lost orders', true],
      ['duplicated side effects', true],
      ['HTTP 5xx', false],
      ['API latency p99', false],
      ['backlog drained after spike end', true],
      ['local cloud peak memory (RSS)', true],
    ]);
    expect(report.timeseries.offered).toEqual([2, 3, 0, 0, 0, 0]);
    expect(report.timeseries.completions).toEqual([0, 0, 2, 1, 0, 0]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('says n/a on AWS for local-only figures', () => {
    const base = input();

    const report = buildReport({ ...base, target: { ...base.target, kind: 'aws', description: 'AWS stack orderflow-dev (us-east-1)' }, statsDelta: undefined });

    expect(report.aws).toEqual({ source: 'n/a on AWS', requestsPerOrder: 'n/a on AWS', requestsByOperation: 'n/a on AWS', totalRequests: 'n/a on AWS' });
    expect(report.functions).toBe('n/a on AWS');
    expect(report.memory).toBe('n/a on AWS');
    expect(report.eventLoops).toBe('n/a on AWS');
    expect(report.aims.find((aim) => aim.name.includes('memory'))).toMatchObject({ value: 'n/a on AWS', pass: undefined });
  });

  it('finds the drain on two consecutive samples with nothing waiting', () => {
    expect(queuesDrainedAt([sample(0, 0), sample(1000, 4), sample(2000, 0), sample(3000, 2), sample(4000, 0), sample(5000, 0)], 500)).toBe(4000);
    expect(queuesDrainedAt([sample(0, 3), sample(1000, 0)], 0)).toBeNull();
  });

  it('renders a self-contained page: scripts inlined, no http(s) URL in script or link tags', () => {
    const html = renderHtml(buildReport(input()));

    const tags = html.match(/<(script|link)\b[^>]*>/gi) ?? [];
    expect(tags.length).toBeGreaterThanOrEqual(3);
    for (const tag of tags) {
      expect(tag).not.toMatch(/\b(src|href)\s*=/i);
      expect(tag).not.toMatch(/https?:\/\//i);
    }
    expect(html).toContain('new uPlot(');
    expect(html).toContain('a note with &lt;markup&gt; &amp; &quot;quotes&quot;');
    expect(html.match(/<script/gi)?.length).toBe(html.match(/<\/script>/gi)?.length);
    const data = /<script id="report-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(JSON.parse(data).timeseries.offered).toEqual([2, 3, 0, 0, 0, 0]);
  });

  it('escapes JSON so that no value can close the data script', () => {
    expect(scriptJson({ note: '</script><script>alert(1)</script>' })).not.toContain('</script');
    expect(JSON.parse(scriptJson({ note: '</script>' }))).toEqual({ note: '</script>' });
  });

  it('shows the AWS prediction beside the local run, in the text summary and the page, with its assumptions', () => {
    // Prepare: billing (OrderPlaced only) consumed by chargeOrder, at most 2 concurrent batches; 1,000 ms per message.
    const template = {
      Resources: {
        ChargeOrderLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Timeout: 10, MemorySize: 512 } },
        BillingQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orderflow-local-billing' } },
        ChargeMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: { BatchSize: 10, EventSourceArn: { 'Fn::GetAtt': ['BillingQueue', 'Arn'] }, FunctionName: { 'Fn::GetAtt': ['ChargeOrderLambdaFunction', 'Arn'] }, ScalingConfig: { MaximumConcurrency: 2 } },
        },
        BillingSub: { Type: 'AWS::SNS::Subscription', Properties: { Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': ['BillingQueue', 'Arn'] }, FilterPolicy: { type: ['OrderPlaced'] } } },
      },
    };
    const report = buildReport(input());
    report.functions = { ...(report.functions as object), 'orderflow-local-chargeOrder': { invocations: 3, errors: 0, timeouts: 0, throttles: 0, memoryMb: 512, meanDurationMs: 1000, invocationsPerOrder: 1 } };

    // Act
    report.prediction = predictForReport(report, template);
    const text = formatSummary(report);
    const html = renderHtml(report);

    // Assess: arrivals 2 then 3 a second, 2 processed a second: depth 0, 1, 0; drained at 2 s = the spike's end.
    expect(report.prediction.queues).toEqual([
      {
        queue: 'billing',
        fn: 'chargeOrder',
        fifo: false,
        batchSize: 10,
        maxConcurrency: 2,
        perMessageMs: 1000,
        predicted: { peakDepth: 1, peakAtS: 1, drainTimeS: 0 },
        local: { peakDepth: 7, drainTimeS: 2 }, // samples 0, 7, 7, 1, 0: empty at 4 s, 2 s after the spike's end
      },
    ]);
    expect(report.prediction.functions.find((f) => f.fn === 'chargeOrder')).toEqual({ fn: 'chargeOrder', predictedPeakConcurrency: 2, localMeanDurationMs: 1000, localInvocations: 3 });
    // The scenario's 5 arrivals (no stage throttling in this template), at the 7 invocations per 3 orders measured
    // (4 placeOrder + 3 chargeOrder), at $0.20 per million.
    expect(report.prediction.cost).toMatchObject({ orders: 5 });
    expect('usd' in report.prediction.cost && report.prediction.cost.lines.find((l) => l.item === 'requests')?.usd).toBeCloseTo((5 * 7 * 0.2e-6) / 3, 12);
    expect(text).toContain('AWS prediction');
    expect(text).toMatch(/billing\s+chargeOrder x2, batch 10, 1,000 ms\/msg\s+1 \/ 7\s+0 s \/ 2 s/);
    expect(html).toContain('On AWS: the capacity model');
    expect(html).toContain('fluid model in 1 s steps');
    expect(html).toContain('id="prediction-depth"');
  });
});

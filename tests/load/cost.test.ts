import { describe, expect, it } from 'vitest';
import { CostError, DAYS_PER_MONTH, PRICES, estimateMonthlyCost, perOrderFromReport, type PerOrder } from '../../scripts/load/cost.ts';
import type { LoadReport } from '../../scripts/load/report.ts';

const perOrder = (): PerOrder => ({
  requests: {
    sqs: { ReceiveMessage: 6, DeleteMessageBatch: 3, SendMessage: 1 },
    sns: { Publish: 2.7 },
    dynamodb: { UpdateItem: 8, PutItem: 1, GetItem: 1 },
    s3: { PutObject: 2, GetObject: 0.5 },
    kinesis: { PutRecords: 0.3, GetRecords: 0.1 },
  },
  functions: {
    placeOrder: { invocationsPerOrder: 1, meanDurationMs: 100, memoryMb: 512 },
    chargeOrder: { invocationsPerOrder: 0.5, meanDurationMs: 1000, memoryMb: 1024 },
  },
  physicalShare: 0.7,
  shards: 1,
});

describe('Load cost: monthly cost from requests per order', () => {
  it('multiplies requests per order by orders per month and the unit price', () => {
    // Act
    const estimate = estimateMonthlyCost(perOrder(), 1_000_000);

    // Assess
    const month = 1_000_000 * DAYS_PER_MONTH;
    const line = (service: string, item: string): number | undefined => estimate.lines.find((l) => l.service === service && l.item.startsWith(item))?.monthlyUsd;
    expect(estimate.ordersPerMonth).toBeCloseTo(month, 6);
    expect(line('SQS', 'requests')).toBeCloseTo((10 * month * 0.4) / 1e6, 6);
    expect(line('SNS', 'FIFO publishes')).toBeCloseTo((2.7 * month * 0.3) / 1e6, 6);
    expect(line('DynamoDB', 'write')).toBeCloseTo((9 * month * 0.625) / 1e6, 6);
    expect(line('DynamoDB', 'read')).toBeCloseTo((1 * month * 0.125) / 1e6, 6);
    expect(line('S3', 'PUT')).toBeCloseTo((2 * month * 0.005) / 1000, 6);
    expect(line('S3', 'GET')).toBeCloseTo((0.5 * month * 0.0004) / 1000, 6);
    expect(line('Lambda', 'requests')).toBeCloseTo((1.5 * month * 0.2) / 1e6, 6);
    // 1 × 0.1 s × 0.5 GB + 0.5 × 1 s × 1 GB = 0.55 GB-s per order.
    expect(line('Lambda', 'duration')).toBeCloseTo(0.55 * month * 0.0000133334, 6);
    expect(estimate.totalUsd).toBeCloseTo(Object.values(estimate.byService).reduce((a, b) => a + b, 0), 9);
  });

  it('leaves out, and names, every line whose price was not found', () => {
    const estimate = estimateMonthlyCost(perOrder(), 1000);

    const unpriced = Object.entries(PRICES).filter(([, price]) => price.usd === undefined);
    expect(unpriced.length).toBeGreaterThan(0);
    expect(estimate.unpriced).toEqual(expect.arrayContaining(['Kinesis Data Streams shard-hours (1 shard)', 'Data Firehose GB ingested (records rounded up to 5 KB)']));
    expect(estimate.byService['Kinesis Data Streams']).toBeUndefined();
    expect(estimate.lines.filter((l) => l.price.usd === undefined).every((l) => l.monthlyUsd === undefined)).toBe(true);
  });

  it('cites a page and a reading date for every price', () => {
    for (const price of Object.values(PRICES)) {
      expect(price.source).toMatch(/^https:\/\//);
      expect(price.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(price.note.length).toBeGreaterThan(10);
    }
  });

  it('scales linearly and refuses nonsense', () => {
    const one = estimateMonthlyCost(perOrder(), 1000).byService.SQS as number;
    const ten = estimateMonthlyCost(perOrder(), 10_000).byService.SQS as number;

    expect(ten).toBeCloseTo(one * 10, 9);
    expect(() => estimateMonthlyCost(perOrder(), -1)).toThrow(CostError);
  });

  it('reads requests per order from a local report and refuses an AWS one', () => {
    const report = {
      run: { id: 'r' },
      counts: { accepted: 10 },
      scenario: { orders: { physicalShare: 0.5 } },
      aws: { source: 'local edge counters (/_local/stats)', requestsByOperation: { sqs: { ReceiveMessage: 50 } } },
      functions: { f: { invocations: 20, meanDurationMs: 10, memoryMb: 128 } },
    } as unknown as LoadReport;

    expect(perOrderFromReport(report)).toEqual({ requests: { sqs: { ReceiveMessage: 5 } }, functions: { f: { invocationsPerOrder: 2, meanDurationMs: 10, memoryMb: 128 } }, physicalShare: 0.5, shards: 1 });
    expect(() => perOrderFromReport({ ...report, aws: { ...report.aws, requestsByOperation: 'n/a on AWS' } } as LoadReport)).toThrow(/n\/a on AWS|use a report of a local run/);
  });
});

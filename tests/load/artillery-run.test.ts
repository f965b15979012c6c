import { describe, expect, it } from 'vitest';
import type { TableItem } from '../../scripts/load/accounting.ts';
import { accountByCorrelation, artilleryInvocation, artilleryOutcome, formatRunAccounting } from '../../scripts/load/artillery-run.ts';

/** An item of the run as the Orders table holds it (the fields scanOrders projects). */
const item = (n: number, overrides: Partial<TableItem> = {}): TableItem => ({
  orderId: `o-${n}`,
  status: 'COMPLETED',
  fulfillment: 'physical',
  placedAt: '2026-12-03T10:00:00.000Z',
  completedAt: new Date(Date.parse('2026-12-03T10:00:00.000Z') + n * 100).toISOString(),
  invoiceWrites: new Set(['a']),
  labelWrites: new Set(['b']),
  correlationId: `load-r1-${n}`,
  ...overrides,
});

describe('Artillery engine: running the script and accounting for its orders', () => {
  it('runs the local runner with one generator, and run-lambda / run-fargate with --count N, writing the JSON report', () => {
    const common = { scriptPath: 'reports/spike.artillery.yml', outputPath: 'reports/out.json', region: 'eu-west-1' };
    expect(artilleryInvocation({ ...common, runner: 'local', workers: 1 })).toEqual(['run', '--output', 'reports/out.json', 'reports/spike.artillery.yml']);
    expect(artilleryInvocation({ ...common, runner: 'lambda', workers: 20 })).toEqual(['run-lambda', '--region', 'eu-west-1', '--count', '20', '--output', 'reports/out.json', 'reports/spike.artillery.yml']);
    expect(artilleryInvocation({ ...common, runner: 'fargate', workers: 5 })).toEqual(['run-fargate', '--region', 'eu-west-1', '--count', '5', '--output', 'reports/out.json', 'reports/spike.artillery.yml']);
    expect(() => artilleryInvocation({ ...common, runner: 'local', workers: 3 })).toThrow('--runner local is one load generator: leave --workers out (got 3) or use --runner lambda|fargate');
  });

  it("reads the accepted orders, status codes and errors from Artillery's aggregate counters", () => {
    const report = { aggregate: { counters: { 'http.requests': 12, 'http.codes.202': 10, 'http.codes.429': 1, 'errors.ETIMEDOUT': 1, 'vusers.failed': 1, 'vusers.created': 12 } } };

    expect(artilleryOutcome(report)).toEqual({ requests: 12, accepted: 10, codes: { '202': 10, '429': 1 }, errors: { ETIMEDOUT: 1 }, failedUsers: 1 });
    expect(() => artilleryOutcome({ intermediate: [] })).toThrow('the Artillery report has no aggregate.counters');
  });

  it('counts as lost every accepted order not COMPLETED, and as duplicated every document written twice', () => {
    const items = [item(1), item(2), item(3, { status: 'CHARGED', completedAt: undefined }), item(4, { invoiceWrites: new Set(['a', 'c']) })];

    const accounting = accountByCorrelation(items, 5);

    expect(accounting).toMatchObject({ accepted: 5, found: 4, completed: 3, lost: 2, foundNotAccepted: 0, duplicated: 1, duplicatedIds: ['o-4'] });
    // completedAt − placedAt of the completed items: 100, 200, 400 ms
    expect(accounting.completionMs).toEqual({ p50: 200, p95: 400, p99: 400, max: 400 });
  });

  it('says when the table holds more of the run than Artillery counted as accepted (client timeouts), without calling them lost', () => {
    const accounting = accountByCorrelation([item(1), item(2), item(3)], 2);

    expect(accounting).toMatchObject({ lost: 0, foundNotAccepted: 1 });
    expect(formatRunAccounting({ requests: 3, accepted: 2, codes: { '202': 2 }, errors: { ETIMEDOUT: 1 }, failedUsers: 1 }, accounting, 180)).toEqual([
      'requests            3 sent: 2 x 202; errors: 1 x ETIMEDOUT',
      'accepted (202)      2',
      'found in the table  3 (by correlation id), 1 not counted as 202 by Artillery (client timeouts on orders the API accepted)',
      'completed           3 within 180 s of the last arrival',
      'lost                0',
      'duplicated          0',
      'order -> COMPLETED  p50 200 ms, p95 300 ms, p99 300 ms, max 300 ms (completedAt - placedAt, both stamped by the service)',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import type { IamReport } from 'local-cloud';
import { formatIamReport } from '../../../scripts/local/iam.ts';

const denial = (at: string, refused = true): IamReport['denials'][number] => ({
  at,
  functionName: 'orderflow-local-shipOrder',
  roleName: 'orderflow-local-shipOrder',
  action: 'sqs:SendMessage',
  resource: 'arn:aws:sqs:us-east-1:000000000000:orderflow-local-billing',
  kind: 'implicit',
  message: 'User: ... is not authorized to perform: sqs:SendMessage',
  refused,
});

describe('Script: npm run iam (formatIamReport)', () => {
  it('groups repeated denials by function, action and resource, with their count and last time', () => {
    const report: IamReport = {
      mode: 'enforce',
      evaluated: 42,
      simulated: 7,
      denials: [denial('2026-12-03T10:00:00.000Z'), denial('2026-12-03T10:00:05.000Z')],
      deliveryDenials: [
        {
          at: '2026-12-03T10:00:01.000Z',
          service: 'sns.amazonaws.com',
          sourceArn: 'arn:aws:sns:us-east-1:000000000000:orders',
          queueArn: 'arn:aws:sqs:us-east-1:000000000000:audit',
          reason: 'the queue has no policy, so nothing allows sns.amazonaws.com to send to it',
          dropped: true,
        },
      ],
      mappingRefusals: [],
    };

    expect(formatIamReport(report)).toEqual([
      'IAM enforce: 42 function request(s) evaluated since start (7 by the policy evaluator, the rest from its decision cache)',
      'requests refused (2, the last 200 kept):',
      '  2 x orderflow-local-shipOrder: sqs:SendMessage on arn:aws:sqs:us-east-1:000000000000:orderflow-local-billing: AccessDenied (role orderflow-local-shipOrder), last at 2026-12-03T10:00:05.000Z',
      'deliveries a queue policy refused (1):',
      '  sns.amazonaws.com arn:aws:sns:us-east-1:000000000000:orders -> arn:aws:sqs:us-east-1:000000000000:audit: dropped: the queue has no policy, so nothing allows sns.amazonaws.com to send to it',
      'event source mappings: every role allows its mapping',
    ]);
  });

  it('says what --iam warn let through and which mappings AWS would not create', () => {
    const report: IamReport = {
      mode: 'warn',
      evaluated: 3,
      simulated: 3,
      denials: [denial('2026-12-03T10:00:00.000Z', false)],
      deliveryDenials: [],
      mappingRefusals: ['WorkerEventSourceMappingSQSWork: The provided execution role does not have permissions to call ReceiveMessage on SQS'],
    };

    expect(formatIamReport(report)).toEqual([
      'IAM warn: 3 function request(s) evaluated since start (3 by the policy evaluator, the rest from its decision cache)',
      'requests refused (1, the last 200 kept):',
      expect.stringContaining('sqs:SendMessage on arn:aws:sqs:us-east-1:000000000000:orderflow-local-billing: allowed (--iam warn), AccessDenied on AWS'),
      'deliveries: none dropped',
      'event source mappings AWS would not create:',
      '  WorkerEventSourceMappingSQSWork: The provided execution role does not have permissions to call ReceiveMessage on SQS',
    ]);
  });

  it('says that nothing is evaluated with --iam off', () => {
    expect(formatIamReport({ mode: 'off', evaluated: 0, simulated: 0, denials: [], deliveryDenials: [], mappingRefusals: [] })).toEqual([
      'IAM off: 0 function request(s) evaluated since start',
      'nothing is evaluated with --iam off',
    ]);
  });
});

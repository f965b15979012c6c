import type { Context } from 'aws-lambda';

/**
 * A Lambda context like the one Lambda passes to `orderflow-dev-<name>`; `remainingMs` is what
 * getRemainingTimeInMillis answers (Powertools idempotency uses it for the in-progress expiry).
 */
const fakeContext = (name: string, { remainingMs = 9_000 }: { remainingMs?: number } = {}): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: `orderflow-dev-${name}`,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:orderflow-dev-${name}`,
  memoryLimitInMB: '512',
  awsRequestId: '6f1c2a5e-3b0d-4c8e-9a7f-2d4b6e8f0a13',
  logGroupName: `/aws/lambda/orderflow-dev-${name}`,
  logStreamName: '2026/11/22/[$LATEST]4b6f3c2d1e0f48a79b8c7d6e5f4a3b2c',
  getRemainingTimeInMillis: () => remainingMs,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

export { fakeContext };

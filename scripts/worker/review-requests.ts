/**
 * `npm run worker`: the review-requests queue consumed by a long-running process instead of the requestReview
 * Lambda, the same work (lib/review.ts) in the other shape (lib/queue-worker.ts). Run as many as you like; each is
 * one competing consumer. SIGTERM or SIGINT: stop polling, finish or release the messages in flight, exit 0.
 *
 * Where it works, from the environment:
 *   REVIEW_REQUESTS_QUEUE_URL, ORDERS_TABLE   given (a container's task definition), or else read from the stack's
 *                                             outputs (ReviewRequestsQueueUrl, OrdersTableName) of STACK_NAME
 *                                             (default orderflow-local).
 *   AWS_ENDPOINT_URL                          unset on AWS (the default credential chain: an instance profile or a
 *                                             task role with the ReviewWorkerPolicy of resources/workers.yml); for
 *                                             `npm start`, default http://127.0.0.1:4566 when STACK_NAME ends in -local.
 *   WORKER_VISIBILITY_SECONDS (30), WORKER_HEARTBEAT_MS (a third of it), WORKER_BATCH_SIZE (10),
 *   WORKER_WAIT_SECONDS (20), WORKER_SHUTDOWN_GRACE_MS (10,000), FAULTS (as the functions', key `reviewWorker`).
 *
 * @example
 * npm start -- --edge-port 4600 &   # then, in two terminals:
 * STACK_NAME=orderflow-local AWS_ENDPOINT_URL=http://127.0.0.1:4600 npm run worker
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LOCAL_CREDENTIALS } from 'local-cloud';

const stackName = process.env.STACK_NAME ?? 'orderflow-local';
if (stackName.endsWith('-local')) {
  process.env.AWS_ENDPOINT_URL ??= 'http://127.0.0.1:4566';
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
}
process.env.AWS_REGION ??= 'us-east-1';
process.env.POWERTOOLS_SERVICE_NAME ??= 'orderflow-review-worker';

// Imported after the environment is set: the application's SDK clients read it when they are created.
const { SQSClient } = await import('@aws-sdk/client-sqs');
const { logger } = await import('../../lib/powertools.ts');
const { injectFaults } = await import('../../lib/faults.ts');
const { requestReview } = await import('../../lib/review.ts');
const { startQueueWorker } = await import('../../lib/queue-worker.ts');

const numberEnv = (name: string, fallback: number): number => {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got '${text}'`);
  return value;
};

async function stackOutputs(): Promise<Record<string, string>> {
  const client = new CloudFormationClient({});
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries((answer.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } finally {
    client.destroy();
  }
}

const given = { queueUrl: process.env.REVIEW_REQUESTS_QUEUE_URL, ordersTable: process.env.ORDERS_TABLE };
const outputs = given.queueUrl && given.ordersTable ? {} : await stackOutputs();
const queueUrl = given.queueUrl ?? outputs.ReviewRequestsQueueUrl;
const ordersTable = given.ordersTable ?? outputs.OrdersTableName;
if (!queueUrl || !ordersTable) throw new Error(`stack ${stackName} has no ReviewRequestsQueueUrl/OrdersTableName output; set REVIEW_REQUESTS_QUEUE_URL and ORDERS_TABLE`);

const log = logger.createChild({ persistentKeys: { worker: process.pid } });
const sqs = new SQSClient({});
const faultsEnv = { FAULTS: process.env.FAULTS, AWS_LAMBDA_FUNCTION_NAME: 'reviewWorker' };
const worker = startQueueWorker({
  sqs,
  queueUrl,
  batchSize: numberEnv('WORKER_BATCH_SIZE', 10),
  waitTimeSeconds: numberEnv('WORKER_WAIT_SECONDS', 20),
  visibilitySeconds: numberEnv('WORKER_VISIBILITY_SECONDS', 30),
  ...(process.env.WORKER_HEARTBEAT_MS ? { heartbeatMs: numberEnv('WORKER_HEARTBEAT_MS', 10_000) } : {}),
  shutdownGraceMs: numberEnv('WORKER_SHUTDOWN_GRACE_MS', 10_000),
  handle: async (message) => {
    const body = message.Body ?? '';
    await injectFaults({ body }, { env: faultsEnv });
    await requestReview(ordersTable, body, log.createChild({ persistentKeys: { messageId: message.MessageId } }), message.Attributes?.SentTimestamp);
  },
  onEvent: (event) => {
    if (event.event === 'failed' || event.event === 'receive-failed' || event.event === 'heartbeat-failed') log.error(event.event, { ...event, error: event.error });
    else log.info(event.event, { ...event });
  },
});
log.info('worker started', { queueUrl, ordersTable });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info('stopping', { signal, inFlight: worker.inFlight() });
    void worker.stop();
  });
}
await worker.done;
sqs.destroy();

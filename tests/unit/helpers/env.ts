import fc from 'fast-check';
import { vi } from 'vitest';

/*
 * Imported first by every unit test file, before any handler or lib module: Powertools reads these variables when
 * lib/powertools.ts creates the logger and metrics at module scope. Logs stay quiet unless asked for
 * (`POWERTOOLS_LOG_LEVEL=DEBUG npx vitest run tests/unit`); metrics are never printed as EMF.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_SERVICE_NAME ??= 'orderflow';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'orderflow';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_REGION ??= 'us-east-1';

// Property tests run the same cases every time (a deterministic suite); explore with FC_SEED=<n> FC_NUM_RUNS=<n>.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20_261_122), numRuns: Number(process.env.FC_NUM_RUNS ?? 100) });

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

/** What serverless.yml gives the functions on stage dev (resolved as CloudFormation would). */
const DEPLOYED = {
  TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:orderflow-dev-order-events.fifo`,
  ORDERS_TABLE: 'orderflow-dev-orders',
  IDEMPOTENCY_TABLE: 'orderflow-dev-idempotency',
  DOCUMENTS_BUCKET: `orderflow-dev-documents-${ACCOUNT}`,
  REVIEW_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/orderflow-dev-review-requests`, // slice-line:reviews
  SHIPPING_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/orderflow-dev-shipping`,
  SHIPMENT_NOTICES_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:orderflow-dev-shipment-notices`,
  BILLING_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/orderflow-dev-billing`,
  STREAM_NAME: 'orderflow-dev-order-stream',
  CHARGE_IDEMPOTENCY_SECONDS: '1814400',
  IMPORT_CHECKPOINTS_TABLE: 'orderflow-dev-idempotency',
  IMPORT_CHECKPOINT_SECONDS: '1814400',
  IMPORT_MAX_BYTES: '104857600',
  LAKE_BUCKET: `orderflow-dev-lake-${ACCOUNT}`, // slice-line:analytics
  ORDER_ID_KEY_SECRET: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:orderflow-dev/order-id-key-Ab12Cd`,
} as const;

/**
 * Stubs the environment one deployed function sees (call in beforeAll; vi.unstubAllEnvs() in afterAll).
 * AWS_LAMBDA_FUNCTION_NAME prefixes Powertools idempotency keys.
 */
const stubDeployedEnv = (functionName: string): void => {
  for (const [name, value] of Object.entries(DEPLOYED)) vi.stubEnv(name, value);
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', `orderflow-dev-${functionName}`);
};

export { DEPLOYED, stubDeployedEnv };

import { SQSClient } from '@aws-sdk/client-sqs';

/** Created once per execution environment and reused. The SDK reads AWS_ENDPOINT_URL (how the local cloud works). */
const sqs = new SQSClient({});

export { sqs };

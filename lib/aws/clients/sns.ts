import { SNSClient } from '@aws-sdk/client-sns';

/** Created once per execution environment and reused. The SDK reads AWS_ENDPOINT_URL (how the local cloud works). */
const sns = new SNSClient({});

export { sns };

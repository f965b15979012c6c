import { S3Client } from '@aws-sdk/client-s3';

/** Created once per execution environment and reused. The SDK reads AWS_ENDPOINT_URL (how the local cloud works). */
const s3 = new S3Client({});

export { s3 };

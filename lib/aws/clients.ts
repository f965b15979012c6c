import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Every AWS SDK client, created once per execution environment (module scope) and reused across invocations.
 * The SDK reads AWS_ENDPOINT_URL itself, which is how the same code talks to the local cloud.
 */
const sns = new SNSClient({});
const sqs = new SQSClient({});
const s3 = new S3Client({});
const dynamodb = new DynamoDBClient({});
const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
// HTTP/1.1: the Kinesis client defaults to HTTP/2, which fails against the emulators on 100+ record PutRecords
// and gains nothing for PutRecords on AWS.
const kinesis = new KinesisClient({ requestHandler: new NodeHttpHandler() });

export { sns, sqs, s3, dynamodb, documents, kinesis };

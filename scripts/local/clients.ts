/**
 * The one place the application's tools and tests build SDK clients for the local cloud's edge. The functions keep
 * their own clients (lib/aws/clients/), which read the endpoint and credentials from the environment the local
 * cloud gives them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LOCAL_CREDENTIALS } from 'local-cloud';

interface LocalClients {
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  kinesis: KinesisClient;
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  /** Destroys every client (their sockets would keep the process alive). */
  destroy(): void;
}

/**
 * SDK clients for the local cloud at `endpoint`: the package's dummy credentials and, beyond what a deployed client
 * sets, only what the edge needs: SQS requests to the endpoint (the emulator's queue URLs carry a host of their
 * own), path-style S3, HTTP/1.1 Kinesis (the SDK's HTTP/2 default fails against kinesalite on large batches: the
 * local cloud's README, "Known quirks").
 *
 * @example
 * const clients = localClients({ endpoint: cloud.edgeUrl, region: cloud.region });
 * await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
 * clients.destroy();
 */
function localClients(target: { endpoint: string; region: string }, options: { customUserAgent?: string } = {}): LocalClients {
  const base = {
    endpoint: target.endpoint,
    region: target.region,
    credentials: { ...LOCAL_CREDENTIALS },
    ...(options.customUserAgent === undefined ? {} : { customUserAgent: options.customUserAgent }),
  };
  const dynamodb = new DynamoDBClient(base);
  const clients = {
    sqs: new SQSClient({ ...base, useQueueUrlAsEndpoint: false }),
    sns: new SNSClient(base),
    s3: new S3Client({ ...base, forcePathStyle: true }),
    kinesis: new KinesisClient({ ...base, requestHandler: new NodeHttpHandler() }),
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb),
  };
  return {
    ...clients,
    destroy() {
      for (const client of [clients.sqs, clients.sns, clients.s3, clients.kinesis, clients.dynamodb]) client.destroy();
    },
  };
}

export { localClients };
export type { LocalClients };

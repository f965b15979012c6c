import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Created once per execution environment and reused. HTTP/1.1: the Kinesis client defaults to HTTP/2, which fails
 * against the local emulators on PutRecords of 100+ records and gains nothing for PutRecords on AWS.
 */
const kinesis = new KinesisClient({ requestHandler: new NodeHttpHandler() });

export { kinesis };

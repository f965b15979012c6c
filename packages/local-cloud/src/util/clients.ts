/**
 * The package's one SDK client factory, for the clients it talks to its own emulators with (provisioning, event
 * sources, S3 notifications, Firehose). Explicit endpoint and credentials, so nothing is read from the environment
 * or `~/.aws`; HTTP/1.1 everywhere (the SDK's HTTP/2 default fails against the emulators on large Kinesis batches,
 * see the package README, "Known quirks").
 */
import { NodeHttpHandler } from '@smithy/node-http-handler';

interface LocalClientConfig {
  endpoint: string;
  region: string;
  /** LOCAL_CREDENTIALS (an administrator at the edge), or a function's (edge/iam-roles.ts): its role's identity. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  requestHandler: NodeHttpHandler;
  maxAttempts: number;
  /** Queue URLs from fauxqs carry a host of their own: an SQS client always talks to `endpoint`. */
  useQueueUrlAsEndpoint: false;
  /** Bucket names in the path: no `<bucket>.127.0.0.1` host to resolve. */
  forcePathStyle: true;
}

/**
 * The one dummy credential pair: no emulator validates signatures. The functions get it in their environment
 * (runtime.ts) and `local-cloud` prints it for the AWS CLI; applications' tools and tests use it too (index.ts).
 */
const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/**
 * The configuration of any SDK v3 client of the local cloud (the SQS- and S3-only settings are ignored by the
 * others).
 *
 * @example
 * const sqs = new SQSClient(localClientConfig(target.endpoint, target.region));
 * const asTheRole = new SQSClient(localClientConfig(target.endpoint, target.region, { credentials: functionCredentials(name) }));
 */
function localClientConfig(endpoint: string, region: string, options: { maxAttempts?: number; credentials?: LocalClientConfig['credentials'] } = {}): LocalClientConfig {
  return {
    endpoint,
    region,
    credentials: { ...(options.credentials ?? LOCAL_CREDENTIALS) },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000 }),
    maxAttempts: options.maxAttempts ?? 3,
    useQueueUrlAsEndpoint: false,
    forcePathStyle: true,
  };
}

export { LOCAL_CREDENTIALS, localClientConfig };
export type { LocalClientConfig };

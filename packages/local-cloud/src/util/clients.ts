/**
 * Configuration for the AWS SDK clients the emulator layer uses internally (S3 notifications,
 * Firehose). Explicit endpoint and credentials, so nothing is read from the environment or
 * `~/.aws`; HTTP/1.1 everywhere (the SDK's HTTP/2 default fails against the emulators on large
 * Kinesis batches, see the package README, "Known quirks").
 */
import { NodeHttpHandler } from '@smithy/node-http-handler';

interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestHandler: NodeHttpHandler;
  maxAttempts: number;
}

/** Dummy credentials: no emulator validates signatures. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

function localClientConfig(endpoint: string, region: string): LocalClientConfig {
  return {
    endpoint,
    region,
    credentials: { ...LOCAL_CREDENTIALS },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000 }),
    maxAttempts: 3,
  };
}

export { LOCAL_CREDENTIALS, localClientConfig };
export type { LocalClientConfig };

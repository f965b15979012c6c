/**
 * The application's conditional S3 write (lib/aws/s3.ts putObjectIfAbsent, `If-None-Match: *`) against the local
 * cloud's S3, which answers 412 for a key that exists, as S3 does (S3 conditional writes).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startEmulators, type Emulators } from 'local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localClients } from '../../scripts/local/clients.ts';

describe('lib/aws/s3.ts on the local cloud', () => {
  let dataDir: string;
  let emulators: Emulators;
  let s3: S3Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'orderflow-s3-conditional-'));
    emulators = await startEmulators({ dataDir, edgePort: 0 });
    ({ s3 } = localClients(emulators));
  });

  afterAll(async () => {
    s3?.destroy();
    await emulators?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('putObjectIfAbsent writes once, then answers false and keeps the first body', async () => {
    // Prepare: the app's module-level client reads AWS_ENDPOINT_URL like the handlers do
    const bucket = `documents-${Date.now()}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: emulators.endpoint, AWS_REGION: emulators.region, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });
    try {
      const { putObjectIfAbsent } = await import('#lib/aws/s3.ts');
      // Act
      const first = await putObjectIfAbsent(bucket, 'documents/invoices/o-9.json', '{"n":1}');
      const second = await putObjectIfAbsent(bucket, 'documents/invoices/o-9.json', '{"n":2}');
      const stored = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'documents/invoices/o-9.json' }))).Body?.transformToString();
      // Assess
      expect([first, second]).toEqual([true, false]);
      expect(stored).toBe('{"n":1}');
    } finally {
      process.env = saved;
    }
  });
});

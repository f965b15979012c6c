import '../helpers/env.ts';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditImportHandler } from '../../../functions/auditImport.ts';
import { auditKeyFor } from '#lib/import-audit.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, firstRecord } from '../helpers/fixtures.ts';

const s3Mock = mockClient(S3Client);
const context = fakeContext('auditImport');
/** The object of events/sqs/s3-import-created.json (the key S3 URL-encoded, decoded). */
const IMPORTED = { bucket: 'orderflow-dev-imports-123456789012', key: 'incoming/2026-11-22/black friday #1.ndjson', sequencer: '37989F2DE238139C5C' };

describe('Function: auditImport', () => {
  beforeAll(() => {
    stubDeployedEnv('auditImport');
  });

  afterEach(() => {
    s3Mock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('writes one audit record per uploaded file version to the lake, once (If-None-Match), under import-audit/', async () => {
    // Prepare
    const record = firstRecord('s3-import-created');

    // Act
    const result = await auditImportHandler(batchOf(record), context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const key = auditKeyFor(IMPORTED);
    expect(key).toMatch(/^import-audit\/[0-9a-f]{32}\/37989F2DE238139C5C\.json$/);
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Bucket: DEPLOYED.LAKE_BUCKET, Key: key, IfNoneMatch: '*' });
    expect(JSON.parse(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as string)).toMatchObject({ ...IMPORTED, size: 1843, eTag: '9b2cf535f27731c974343645a3985328', eventName: 'ObjectCreated:Put' });
  });

  it('counts a redelivered event as done: the record is already there (412)', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 } }));

    // Act
    const result = await auditImportHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it('reports only the record the lake refuses as failed (it is retried, then lands in the audit DLQ)', async () => {
    // Prepare
    const refused = asNewMessage(firstRecord('s3-import-created'));
    const testEvent = firstRecord('s3-test-event');
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }));

    // Act
    const result = await auditImportHandler(batchOf(refused, testEvent), context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: refused.messageId }] });
  });

  it("does nothing for S3's test event (sent when the notification is configured)", async () => {
    // Act
    const result = await auditImportHandler(batchOf(firstRecord('s3-test-event')), context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3Mock.calls()).toHaveLength(0);
  });
});

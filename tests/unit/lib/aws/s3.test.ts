import '../../helpers/env.ts';
import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { getObjectText, putObject, putObjectIfAbsent } from '#lib/aws/s3.ts';

const BUCKET = 'orderflow-dev-documents-123456789012';
const KEY = 'documents/invoices/7c9e6679-7425-40de-944b-e07fc1f90ae7.json';
const s3Mock = mockClient(S3Client);

/** The error the SDK raises for an S3 answer without a modeled error class (412, 409, 503...). */
const s3Error = (name: string, httpStatusCode: number, message: string): S3ServiceException =>
  new S3ServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', message, $metadata: { httpStatusCode } });

describe('Lib: aws/s3', () => {
  afterEach(() => {
    s3Mock.reset();
  });

  describe('putObjectIfAbsent', () => {
    it('writes with If-None-Match: * and answers true when the object is new', async () => {
      // Act
      const created = await putObjectIfAbsent(BUCKET, KEY, '{"a":1}');

      // Assess
      expect(created).toBe(true);
      expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Bucket: BUCKET, Key: KEY, Body: '{"a":1}', ContentType: 'application/json', IfNoneMatch: '*' });
    });

    it('answers false when S3 answers 412 Precondition Failed (the key exists)', async () => {
      // Prepare
      s3Mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold'));

      // Act + Assess
      expect(await putObjectIfAbsent(BUCKET, KEY, '{}')).toBe(false);
    });

    it('answers false when S3 answers 409 ConditionalRequestConflict (a concurrent write of the key)', async () => {
      // Prepare
      s3Mock.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409, 'A conflicting conditional operation is currently in progress against this resource.'));

      // Act + Assess
      expect(await putObjectIfAbsent(BUCKET, KEY, '{}')).toBe(false);
    });

    it('rethrows any other S3 error (403, 503) and any non-S3 error', async () => {
      // Prepare
      const denied = s3Error('AccessDenied', 403, 'Access Denied');
      const slowDown = s3Error('SlowDown', 503, 'Please reduce your request rate.');
      const socket = new Error('socket hang up');
      s3Mock.on(PutObjectCommand).rejectsOnce(denied).rejectsOnce(slowDown).rejectsOnce(socket);

      // Act + Assess
      await expect(putObjectIfAbsent(BUCKET, KEY, '{}')).rejects.toBe(denied);
      await expect(putObjectIfAbsent(BUCKET, KEY, '{}')).rejects.toBe(slowDown);
      await expect(putObjectIfAbsent(BUCKET, KEY, '{}')).rejects.toBe(socket);
    });
  });

  describe('getObjectText', () => {
    it('reads the object body as UTF-8 text', async () => {
      // Prepare
      s3Mock.on(GetObjectCommand, { Bucket: BUCKET, Key: KEY }).resolves({ Body: sdkStreamMixin(Readable.from([Buffer.from('{"name":"Zoë"}\n')])) });

      // Act + Assess
      expect(await getObjectText(BUCKET, KEY)).toBe('{"name":"Zoë"}\n');
    });

    it('answers an empty string for an object without a body', async () => {
      s3Mock.on(GetObjectCommand).resolves({});
      expect(await getObjectText(BUCKET, KEY)).toBe('');
    });

    it('rejects with NoSuchKey when the object is gone', async () => {
      // Prepare
      s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));

      // Act + Assess
      await expect(getObjectText(BUCKET, KEY)).rejects.toBeInstanceOf(NoSuchKey);
    });
  });

  describe('putObject', () => {
    it('writes unconditionally', async () => {
      // Act
      await putObject(BUCKET, 'rejected/a.ndjson.json', '[]', 'application/json');

      // Assess
      expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Bucket: BUCKET, Key: 'rejected/a.ndjson.json', Body: '[]', ContentType: 'application/json' });
      expect(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input).not.toHaveProperty('IfNoneMatch');
    });
  });
});

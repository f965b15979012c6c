import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { s3 } from './clients/s3.ts';

/**
 * Writes an object only if no object has that key yet (S3 conditional write, `If-None-Match: *`).
 * Returns false when the object already existed: a retried step finds its earlier result and moves on.
 *
 * S3 answers 412 Precondition Failed when the key exists, and 409 ConditionalRequestConflict when a concurrent
 * write of the same key is in progress (S3 user guide, "Conditional writes"); both mean "someone wrote it".
 *
 * @example
 * const created = await putObjectIfAbsent(bucket, `documents/invoices/${orderId}.json`, JSON.stringify(invoice));
 */
const putObjectIfAbsent = async (bucket: string, key: string, body: string, contentType = 'application/json'): Promise<boolean> => {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: '*' }));
    return true;
  } catch (error) {
    if (error instanceof S3ServiceException && [409, 412].includes(error.$metadata.httpStatusCode ?? 0)) return false;
    throw error;
  }
};

/**
 * Reads an object as text.
 *
 * @example
 * const ndjson = await getObjectText(bucket, key);
 */
const getObjectText = async (bucket: string, key: string): Promise<string> => {
  const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await result.Body?.transformToString('utf-8')) ?? '';
};

/**
 * Writes an object unconditionally.
 *
 * @example
 * await putObject(bucket, 'rejected/orders.ndjson.json', JSON.stringify(report));
 */
const putObject = async (bucket: string, key: string, body: string, contentType = 'application/json'): Promise<void> => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
};

export { putObjectIfAbsent, getObjectText, putObject };

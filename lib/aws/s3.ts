import { Readable } from 'node:stream'; // slice-line:imports
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { OrderflowError } from '../domain/errors.ts'; // slice-line:imports
import { s3 } from './clients/s3.ts';

// slice-begin:imports
/** The object at a key is no longer the version an event named: S3 answered 412 to `If-Match` on that ETag. */
class ObjectChangedError extends OrderflowError {
  constructor(bucket: string, key: string, eTag: string) {
    super(`s3://${bucket}/${key} is no longer the version with ETag ${eTag}: it was overwritten (or deleted and written again) since`);
    this.name = 'ObjectChangedError';
  }
}

/** An S3 event's ETag has no quotes; an `If-Match` header takes the entity tag quoted (RFC 9110, section 8.8.3). */
const quotedETag = (eTag: string): string => (eTag.startsWith('"') || eTag.startsWith('W/') ? eTag : `"${eTag}"`);
// slice-end:imports

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

// slice-begin:imports
/**
 * Opens exactly the version of an object with this ETag (GetObject `If-Match`), as a stream: the caller reads it
 * piece by piece, never whole. Throws ObjectChangedError when the key now holds another version (412).
 *
 * @example
 * const { body, contentLength } = await openObjectVersion(bucket, key, eTag);
 * for await (const chunk of body) ...
 */
const openObjectVersion = async (bucket: string, key: string, eTag: string): Promise<{ body: AsyncIterable<Uint8Array>; contentLength?: number }> => {
  try {
    const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: quotedETag(eTag) }));
    // In Node, the SDK's Body is a Readable (IncomingMessage with the SDK's stream mixin); none means an empty object.
    const body: AsyncIterable<Uint8Array> = (result.Body as Readable | undefined) ?? Readable.from([]);
    return { body, ...(result.ContentLength === undefined ? {} : { contentLength: result.ContentLength }) };
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) throw new ObjectChangedError(bucket, key, eTag);
    throw error;
  }
};
// slice-end:imports

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
export { ObjectChangedError, openObjectVersion }; // slice-line:imports

/**
 * Writes a replay's objects so that running it again changes nothing: each key is written with
 * `If-None-Match: *` (S3 user guide, "How to prevent object overwrites with conditional writes"); where the key
 * exists (412), the object is read back and compared; an equal one is left alone, a different one (a window that
 * gained or lost records since: a late record, or the retention dropped some) is replaced with `If-Match` on the
 * ETag just read, so a concurrent writer makes this run fail rather than be overwritten silently.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';

type WriteOutcome = 'written' | 'unchanged' | 'replaced';

interface ReplayObject {
  key: string;
  body: Uint8Array | string;
  contentType: string;
  /** The stored body's content as text (gunzipped for .gz), to compare with `text`. */
  text: string;
}

const isPreconditionFailed = (error: unknown): boolean => error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 412 || error.name === 'PreconditionFailed');

/** An object's content as text, gunzipped where its key ends in .gz. */
async function readText(s3: S3Client, bucket: string, key: string): Promise<{ text: string; etag: string | undefined }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
  return { text: (key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'), etag: out.ETag };
}

/**
 * Writes one object unless the same content is already there.
 *
 * @example
 * const outcome = await putIfChanged(s3, 'orderflow-dev-lake-123', { key, body, contentType: 'application/json', text });
 */
async function putIfChanged(s3: S3Client, bucket: string, object: ReplayObject): Promise<WriteOutcome> {
  const put = { Bucket: bucket, Key: object.key, Body: object.body, ContentType: object.contentType };
  try {
    await s3.send(new PutObjectCommand({ ...put, IfNoneMatch: '*' }));
    return 'written';
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
  }
  const stored = await readText(s3, bucket, object.key);
  if (stored.text === object.text) return 'unchanged';
  await s3.send(new PutObjectCommand({ ...put, IfMatch: stored.etag }));
  return 'replaced';
}

export type { WriteOutcome };
export { putIfChanged };

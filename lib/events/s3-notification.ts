import { InvalidEventError } from '../domain/errors.ts';
import { isRecord } from '../domain/validate.ts';

/** One object-created notification, with its key decoded. */
interface S3ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  /** Orders the events of one key: each distinct write has its own; a redelivered event repeats it. */
  sequencer: string;
  eventName: string;
}

/** S3 URL-encodes keys in events, with spaces as '+'; a malformed escape is reported as the key at fault. */
const decodeKey = (key: string, index: number): string => {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new InvalidEventError('S3 notification', [{ field: `Records[${index}].s3.object.key`, message: `is not URL-encoded: ${key}` }]);
  }
};

/**
 * Parses the body of an SQS message that S3 sent. S3 sends one `s3:TestEvent` when a notification is configured:
 * that yields no records (nothing to do, not a failure).
 *
 * S3 URL-encodes object keys in events, with spaces as '+' (S3 user guide, "Event message structure").
 *
 * @example
 * for (const object of parseS3Notification(record.body)) await handle(object.bucket, object.key);
 */
const parseS3Notification = (body: string): S3ObjectCreated[] => {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InvalidEventError('S3 notification', [{ field: '(body)', message: 'is not JSON' }]);
  }
  if (isRecord(value) && value.Event === 's3:TestEvent') return [];
  if (!isRecord(value) || !Array.isArray(value.Records)) {
    throw new InvalidEventError('S3 notification', [{ field: 'Records', message: 'must be an array' }]);
  }
  return value.Records.map((record: unknown, index: number) => {
    const s3 = isRecord(record) && isRecord(record.s3) ? record.s3 : undefined;
    const bucket = s3 && isRecord(s3.bucket) ? s3.bucket.name : undefined;
    const object = s3 && isRecord(s3.object) ? s3.object : undefined;
    if (typeof bucket !== 'string' || !object || typeof object.key !== 'string') {
      throw new InvalidEventError('S3 notification', [{ field: `Records[${index}].s3`, message: 'must name a bucket and an object key' }]);
    }
    return {
      bucket,
      key: decodeKey(object.key, index),
      size: typeof object.size === 'number' ? object.size : 0,
      eTag: typeof object.eTag === 'string' ? object.eTag : '',
      sequencer: typeof object.sequencer === 'string' ? object.sequencer : '',
      eventName: isRecord(record) && typeof record.eventName === 'string' ? record.eventName : 'ObjectCreated:Put',
    };
  });
};


export { parseS3Notification };
export type { S3ObjectCreated };

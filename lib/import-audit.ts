/**
 * The import audit trail: one record per uploaded import file version, written to the lake beside the order events
 * (`import-audit/`), whatever importOrders later makes of the file. It is the second consumer of the imports
 * bucket's notifications: S3 allows one rule per event type and overlapping prefix/suffix ("Configuring event
 * notifications using object key name filtering", S3 user guide), so both consumers get the same event through an
 * SNS topic that fans out to a queue each (resources/imports-fanout.yml).
 */
import { createHash } from 'node:crypto';
import { putObjectIfAbsent } from './aws/s3.ts';
import type { S3ObjectCreated } from './events/s3-notification.ts';

/** What the audit trail keeps of one upload: the S3 event's object, and when it was audited. */
type ImportAuditRecord = S3ObjectCreated & { auditedAt: string };

/**
 * Where the audit records of one bucket and key go: the key is hashed, as an import key may be up to 1,024 bytes,
 * S3's key limit too (S3 user guide, "Naming Amazon S3 objects"); each record holds it in full.
 *
 * @example
 * await s3.send(new ListObjectsV2Command({ Bucket: lakeBucket, Prefix: auditPrefixFor({ bucket, key }) }));
 */
const auditPrefixFor = (object: Pick<S3ObjectCreated, 'bucket' | 'key'>): string =>
  `import-audit/${createHash('sha256').update(`${object.bucket}/${object.key}`).digest('hex').slice(0, 32)}/`;

/**
 * Where one upload's audit record goes: one object per bucket, key and write (`sequencer`), so a redelivered event
 * finds its record already there.
 *
 * @example
 * auditKeyFor({ bucket: 'imports', key: 'uploads/2026-12-03.ndjson', sequencer: '0065F1' }) // import-audit/<32 hex>/0065F1.json
 */
const auditKeyFor = (object: Pick<S3ObjectCreated, 'bucket' | 'key' | 'sequencer'>): string => `${auditPrefixFor(object)}${object.sequencer}.json`;

/**
 * Writes the audit record of one uploaded file version to `lakeBucket`, once (S3 `If-None-Match: *`); answers
 * whether this call wrote it (false: a redelivery, already recorded).
 *
 * @example
 * for (const object of parseS3Notification(record.body)) await auditImport(object, { lakeBucket });
 */
const auditImport = async (object: S3ObjectCreated, { lakeBucket, now = new Date() }: { lakeBucket: string; now?: Date }): Promise<boolean> => {
  const record: ImportAuditRecord = { ...object, auditedAt: now.toISOString() };
  return putObjectIfAbsent(lakeBucket, auditKeyFor(object), JSON.stringify(record));
};

export { auditImport, auditKeyFor, auditPrefixFor };

import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { parseS3Notification } from '#lib/events/s3-notification.ts';
import { auditImport } from '#lib/import-audit.ts';
import { withPowertools } from '#lib/middleware/handler.ts';

const auditImportRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  for (const object of parseS3Notification(record.body)) {
    const written = await auditImport(object, { lakeBucket: requireEnv('LAKE_BUCKET') });
    log.info(written ? 'import audited' : 'import already audited', { bucket: object.bucket, key: object.key, sequencer: object.sequencer });
  }
};

/** import-audit queue (the imports topic's second subscriber: S3 ObjectCreated on *.ndjson) → audit record in the lake. */
const auditImportHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, auditImportRecord);

const handler = withPowertools(auditImportHandler);

export { auditImportHandler, handler };

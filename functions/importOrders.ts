import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv, requirePositiveIntegerEnv } from '#lib/aws/env.ts';
import { readImportCheckpoint, saveImportCheckpoint } from '#lib/aws/import-checkpoints.ts';
import { publishOrderEvents } from '#lib/aws/publish.ts';
import { openObjectVersion, putObject } from '#lib/aws/s3.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { parseS3Notification } from '#lib/events/s3-notification.ts';
import { importFileVersion } from '#lib/imports.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { metrics } from '#lib/powertools.ts';

const importOrdersRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  const table = requireEnv('IMPORT_CHECKPOINTS_TABLE');
  const checkpointSeconds = requirePositiveIntegerEnv('IMPORT_CHECKPOINT_SECONDS');
  const maxBytes = requirePositiveIntegerEnv('IMPORT_MAX_BYTES');
  for (const object of parseS3Notification(record.body)) {
    const source = { bucket: object.bucket, key: object.key, eTag: object.eTag };
    const outcome = await importFileVersion(source, { size: object.size, maxBytes, now: new Date() }, {
      open: () => openObjectVersion(object.bucket, object.key, object.eTag),
      readCheckpoint: () => readImportCheckpoint(table, source),
      saveCheckpoint: (checkpoint) => saveImportCheckpoint(table, source, checkpoint, checkpointSeconds),
      publish: (events) => publishOrderEvents(requireEnv('TOPIC_ARN'), events),
      putReport: (key, body) => putObject(object.bucket, key, body),
    });
    const fields = { key: object.key, eTag: object.eTag, size: object.size, ...outcome };
    if (outcome.status === 'too large') log.error('import refused: file over the size limit', { ...fields, maxBytes });
    else if (outcome.status === 'superseded') log.warn('import skipped: the key holds a newer version, imported on its own notification', fields);
    else log.info(outcome.status === 'imported' ? 'import done' : 'import skipped: already done', fields);
    metrics.addMetric('OrdersImported', MetricUnit.Count, outcome.published);
    metrics.addMetric('ImportLinesRejected', MetricUnit.Count, outcome.rejected);
    if (outcome.status === 'too large') metrics.addMetric('ImportFilesRefused', MetricUnit.Count, 1);
  }
};

/** import-jobs queue (S3 ObjectCreated *.ndjson) → one OrderPlaced per valid line, a report of rejected lines. */
const importOrdersHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, importOrdersRecord);

const handler = withPowertools(importOrdersHandler);

export { handler, importOrdersHandler };

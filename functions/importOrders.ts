import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { publishOrderEvents } from '#lib/aws/publish.ts';
import { getObjectText, putObject } from '#lib/aws/s3.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { parseS3Notification } from '#lib/events/s3-notification.ts';
import { importEvents, parseImport, rejectedReportKey } from '#lib/imports.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { metrics } from '#lib/powertools.ts';

const importOrdersRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  for (const object of parseS3Notification(record.body)) {
    const { accepted, rejected } = parseImport(await getObjectText(object.bucket, object.key));
    // Publish first, then write the report: a retry after a crash re-publishes with the same deterministic ids.
    await publishOrderEvents(requireEnv('TOPIC_ARN'), importEvents(object, accepted, new Date()));
    if (rejected.length > 0) {
      await putObject(object.bucket, rejectedReportKey(object.key), JSON.stringify({ source: object.key, rejected }, null, 2));
    }
    log.info('import done', { key: object.key, accepted: accepted.length, rejected: rejected.length });
    metrics.addMetric('OrdersImported', MetricUnit.Count, accepted.length);
    metrics.addMetric('ImportLinesRejected', MetricUnit.Count, rejected.length);
  }
};

/** import-jobs queue (S3 ObjectCreated *.ndjson) → one OrderPlaced per valid line, a report of rejected lines. */
const importOrdersHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, importOrdersRecord);

const handler = withPowertools(importOrdersHandler);

export { handler, importOrdersHandler };

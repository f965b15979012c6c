import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { transformLakeRecord } from '#lib/lake.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { logger, metrics } from '#lib/powertools.ts';

/**
 * Firehose's Lambda processor for the lake: every order event becomes a flat row without the customer's name and
 * address (lib/lake.ts); a record that is not an order event is ProcessingFailed, and Firehose writes it under the
 * lake's error prefix (errors/processing-failed/). Every record is answered: Firehose fails a missing recordId.
 */
const transformLakeRecordsHandler = async (event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> => {
  const records = event.records.map((record) => {
    const { result, error } = transformLakeRecord(record);
    if (error !== undefined) {
      // The stream's partition key is the order id (streamOrderEvents).
      logger.error('record failed', { recordId: record.recordId, orderId: record.kinesisRecordMetadata?.partitionKey, errorName: error.name, errorMessage: error.message });
    }
    return result;
  });
  const count = (result: string): number => records.filter((record) => record.result === result).length;
  metrics.addMetric('LakeRecordsOk', MetricUnit.Count, count('Ok'));
  metrics.addMetric('LakeRecordsDropped', MetricUnit.Count, count('Dropped'));
  metrics.addMetric('LakeRecordsFailed', MetricUnit.Count, count('ProcessingFailed'));
  return { records };
};

const handler = withPowertools(transformLakeRecordsHandler);

export { handler, transformLakeRecordsHandler };

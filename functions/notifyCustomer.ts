import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { recordDocumentNotice } from '#lib/aws/orders-table.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { parseS3Notification } from '#lib/events/s3-notification.ts';
import { withPowertools } from '#lib/middleware/handler.ts';

const DOCUMENT_KEY = /^documents\/(invoices|labels)\/([A-Za-z0-9_-]{1,64})\.json$/;

const notifyCustomerRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  for (const object of parseS3Notification(record.body)) {
    const match = DOCUMENT_KEY.exec(object.key);
    if (!match) throw new InvalidEventError('S3 notification', [{ field: 's3.object.key', message: `is not an invoice or label key: ${object.key}` }]);
    const [, kind, orderId] = match as unknown as [string, 'invoices' | 'labels', string];
    // Send the e-mail here (SES, your CRM...), once: the notice time is written only the first time.
    await recordDocumentNotice(requireEnv('ORDERS_TABLE'), orderId, kind === 'invoices' ? 'invoice' : 'label', {
      at: new Date().toISOString(),
      sequencer: object.sequencer,
    });
    log.info('customer notified', { orderId, document: kind, key: object.key });
  }
};

/** document-events queue (S3 ObjectCreated on invoices/ and labels/) → customer notification. */
const notifyCustomerHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, notifyCustomerRecord);

const handler = withPowertools(notifyCustomerHandler);

export { handler, notifyCustomerHandler };

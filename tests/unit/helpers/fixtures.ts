import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, SNSEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import type { FirehoseTransformationEvent, KinesisStreamTumblingWindowEvent } from 'aws-lambda'; // slice-line:analytics

const EVENTS_DIR = new URL('../../../events/', import.meta.url);
const parsed = new Map<string, unknown>();

/**
 * A fresh copy (structuredClone) of a stored sample event from events/: a test may change its copy freely.
 *
 * @example
 * const event = loadEvent<SQSEvent>('sqs/order-charged.json');
 */
const loadEvent = <T>(path: string): T => {
  if (!parsed.has(path)) parsed.set(path, JSON.parse(readFileSync(new URL(path, EVENTS_DIR), 'utf8')));
  return structuredClone(parsed.get(path)) as T;
};

const httpEvent = (variant: string): APIGatewayProxyEventV2 => loadEvent<APIGatewayProxyEventV2>(`http/${variant}.json`);
const sqsRecords = (variant: string): SQSRecord[] => loadEvent<SQSEvent>(`sqs/${variant}.json`).Records;
const snsEvent = (variant: string): SNSEvent => loadEvent<SNSEvent>(`sns/${variant}.json`);
const kinesisWindowEvent = (): KinesisStreamTumblingWindowEvent => loadEvent<KinesisStreamTumblingWindowEvent>('kinesis/order-events-window.json'); // slice-line:analytics
const firehoseEvent = (variant: string): FirehoseTransformationEvent => loadEvent<FirehoseTransformationEvent>(`firehose/${variant}.json`); // slice-line:analytics

/** An SQS event holding these records, in this order. */
const batchOf = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/** The first record of a stored SQS event. */
const firstRecord = (variant: string): SQSRecord => {
  const [record] = sqsRecords(variant);
  if (!record) throw new Error(`events/sqs/${variant}.json holds no record`);
  return record;
};

let sequence = 0;
/** A copy of a record as another message: new messageId and receipt handle, same body and attributes. */
const asNewMessage = (record: SQSRecord, changes: Partial<SQSRecord> = {}): SQSRecord => {
  sequence += 1;
  const suffix = String(sequence).padStart(12, '0');
  return {
    ...structuredClone(record),
    messageId: `0e5b8c3a-1f2d-4e6a-9b7c-${suffix}`,
    receiptHandle: `AQEBcopy${suffix}${record.receiptHandle.slice(20)}`,
    ...changes,
  };
};

/** The same message handed over again (after a visibility timeout): same messageId, receive count + 1. */
const redelivery = (record: SQSRecord): SQSRecord => {
  const copy = structuredClone(record);
  copy.attributes.ApproximateReceiveCount = String(Number(copy.attributes.ApproximateReceiveCount) + 1);
  return copy;
};

/** The parsed JSON body of a record. */
const bodyOf = <T = Record<string, unknown>>(record: SQSRecord): T => JSON.parse(record.body) as T;

export { httpEvent, snsEvent, sqsRecords, batchOf, firstRecord, asNewMessage, redelivery, bodyOf };
export { kinesisWindowEvent, firehoseEvent }; // slice-line:analytics

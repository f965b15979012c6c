import type { FirehoseTransformationEventRecord, FirehoseTransformationResultRecord } from 'aws-lambda';
import { parseOrderEvent, type OrderEvent } from './events/order-events.ts';

/**
 * One row of the lake: an order event, flat, without the customer's name and address. The keys are the columns of
 * the Glue table the lake's Parquet is written with (resources/lake.yml `LakeEventsTable`), lower case as the Glue
 * Data Catalog keeps column names; a field an event type has not is null.
 */
interface LakeRow {
  type: OrderEvent['type'];
  eventid: string;
  orderid: string;
  occurredat: string;
  correlationid: string;
  fulfillment: string;
  customerid: string | null;
  totalcents: number | null;
  itemcount: number | null;
  /** The shipping country only (ISO 3166-1 alpha-2): the name, street, city and postal code never reach the lake. */
  shipcountry: string | null;
  chargeid: string | null;
  amountcents: number | null;
  trackingnumber: string | null;
}

/** The columns in table order: tests/template/lake.test.ts holds them equal to the Glue table's. */
const LAKE_COLUMNS = [
  'type',
  'eventid',
  'orderid',
  'occurredat',
  'correlationid',
  'fulfillment',
  'customerid',
  'totalcents',
  'itemcount',
  'shipcountry',
  'chargeid',
  'amountcents',
  'trackingnumber',
] as const satisfies readonly (keyof LakeRow)[];

/**
 * The lake row of an order event: what analytics needs, no personal data (names, addresses, invoice and label keys).
 *
 * @example
 * toLakeRow(parseOrderEvent(body)); // { type: 'OrderPlaced', orderid: '...', shipcountry: 'DE', ... }
 */
const toLakeRow = (event: OrderEvent): LakeRow => {
  const row: LakeRow = {
    type: event.type,
    eventid: event.eventId,
    orderid: event.orderId,
    occurredat: event.occurredAt,
    correlationid: event.correlationId,
    fulfillment: event.fulfillment,
    customerid: null,
    totalcents: null,
    itemcount: null,
    shipcountry: null,
    chargeid: null,
    amountcents: null,
    trackingnumber: null,
  };
  switch (event.type) {
    case 'OrderPlaced':
      return {
        ...row,
        customerid: event.order.customerId,
        totalcents: event.order.totalCents,
        itemcount: event.order.items.reduce((sum, item) => sum + item.quantity, 0),
        shipcountry: event.order.shippingAddress?.country ?? null,
      };
    case 'OrderCharged':
      return { ...row, chargeid: event.chargeId, amountcents: event.amountCents };
    case 'OrderShipped':
      return { ...row, trackingnumber: event.trackingNumber };
  }
};

/** Why a record was not Ok, for the log line beside it. */
interface LakeRecordOutcome {
  result: FirehoseTransformationResultRecord;
  error?: Error;
}

/**
 * Firehose's record contract for one record: the same `recordId`, `Ok` with the row as one NDJSON line (base64),
 * `Dropped` for a blank record (nothing to keep), `ProcessingFailed` for one that is not an order event, its data
 * returned untouched (Firehose writes the source record to the error prefix: "Handle failure in data
 * transformation", Firehose developer guide).
 *
 * @example
 * const records = event.records.map((record) => transformLakeRecord(record).result);
 */
const transformLakeRecord = (record: FirehoseTransformationEventRecord): LakeRecordOutcome => {
  const body = Buffer.from(record.data, 'base64').toString('utf8');
  if (body.trim() === '') return { result: { recordId: record.recordId, result: 'Dropped', data: record.data } };
  try {
    const row = toLakeRow(parseOrderEvent(body));
    return { result: { recordId: record.recordId, result: 'Ok', data: Buffer.from(`${JSON.stringify(row)}\n`).toString('base64') } };
  } catch (error) {
    return { result: { recordId: record.recordId, result: 'ProcessingFailed', data: record.data }, error: error as Error };
  }
};

export { LAKE_COLUMNS, transformLakeRecord };

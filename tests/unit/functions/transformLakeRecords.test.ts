import '../helpers/env.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FirehoseTransformationEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler, transformLakeRecordsHandler } from '../../../functions/transformLakeRecords.ts';
import { LAKE_COLUMNS } from '#lib/lake.ts';
import { logger, metrics } from '#lib/powertools.ts';
import { fakeContext } from '../helpers/context.ts';
import { firehoseEvent } from '../helpers/fixtures.ts';

/** Stored: a physical OrderPlaced (with a shipping address), an OrderCharged, a record that is not JSON, a blank one. */
const lakeEvent = (): FirehoseTransformationEvent => firehoseEvent('lake-transformation');
const decode = (data: string | undefined): unknown => JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8'));

describe('Function: transformLakeRecords', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers every record with its recordId: Ok rows without name or address, ProcessingFailed untouched, Dropped blank', async () => {
    // Prepare
    const event = lakeEvent();

    // Act
    const { records } = await transformLakeRecordsHandler(event);

    // Assess
    expect(records.map((record) => record.recordId)).toEqual(event.records.map((record) => record.recordId));
    expect(records.map((record) => record.result)).toEqual(['Ok', 'Ok', 'ProcessingFailed', 'Dropped']);
    expect(decode(records[0]?.data)).toEqual({
      type: 'OrderPlaced',
      eventid: '7c9e6679-7425-40de-944b-e07fc1f90ae7:OrderPlaced',
      orderid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      occurredat: '2026-11-22T10:15:30.412Z',
      correlationid: 'CxW2NhQ9IAMEJbw=',
      fulfillment: 'physical',
      customerid: 'c-42',
      totalcents: 3448,
      itemcount: 3,
      shipcountry: 'GB',
      chargeid: null,
      amountcents: null,
      trackingnumber: null,
    });
    expect(Buffer.from(records[0]?.data ?? '', 'base64').toString('utf8')).toMatch(/\}\n$/);
    expect(Object.keys(decode(records[1]?.data) as object)).toEqual([...LAKE_COLUMNS]);
    expect(decode(records[1]?.data)).toMatchObject({ type: 'OrderCharged', chargeid: 'ch_6316e01c9e1d33dec091e546', amountcents: 3448, customerid: null });
    expect(records[2]?.data).toBe(event.records[2]?.data);
  });

  it('lets no name, street, city or postal code through', async () => {
    // Prepare
    const event = lakeEvent();

    // Act
    const { records } = await transformLakeRecordsHandler(event);

    // Assess
    const ok = records.filter((record) => record.result === 'Ok').map((record) => Buffer.from(record.data ?? '', 'base64').toString('utf8'));
    for (const secret of ['Ada Lovelace', '1 Main St', 'Leeds', 'LS1 1AA', 'documents/invoices/']) {
      expect(ok.join('')).not.toContain(secret);
    }
  });

  it('logs the failed record with its order id, and counts the three outcomes', async () => {
    // Prepare
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    await handler(lakeEvent(), fakeContext('transformLakeRecords'));

    // Assess
    expect(error).toHaveBeenCalledWith('record failed', expect.objectContaining({ recordId: lakeEvent().records[2]?.recordId, orderId: 'unknown', errorName: 'InvalidEventError' }));
    expect(addMetric.mock.calls).toEqual([
      ['LakeRecordsOk', MetricUnit.Count, 2],
      ['LakeRecordsDropped', MetricUnit.Count, 1],
      ['LakeRecordsFailed', MetricUnit.Count, 1],
    ]);
  });
});

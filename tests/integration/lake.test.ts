/**
 * The lake on the compiled template running on the local cloud, through the real SDK: Firehose reads the order
 * stream, hands each batch to transformLakeRecords (Lambda processor: no customer name or address in the lake),
 * writes what the function could not read under errors/processing-failed/, converts the rows to Parquet with the
 * Glue table's columns, and backs up every source record under source/; `npm run lake:query` answers SQL over it.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import { LAKE_COLUMNS } from '../../lib/lake.ts';
import { runLakeQuery } from '../../scripts/lake/query.ts';
import { physicalOrder, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';

describe('Local cloud: the lake behind Firehose data transformation', () => {
  let t: CloudUnderTest;

  beforeAll(async () => {
    t = await startCloudForTests('lake');
  });

  afterAll(async () => {
    await t?.dispose();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t.tail(80)}`);
  });

  /** Every object under a prefix of the lake bucket, as text (`.gz` decompressed). */
  const objectsUnder = async (prefix: string): Promise<Array<{ key: string; text: string }>> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await t.clients.s3.send(new ListObjectsV2Command({ Bucket: t.names.lakeBucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return Promise.all(
      keys.map(async (key) => {
        const bytes = Buffer.from(await (await t.clients.s3.send(new GetObjectCommand({ Bucket: t.names.lakeBucket, Key: key }))).Body!.transformToByteArray());
        return { key, text: (key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8') };
      }),
    );
  };

  it('keeps the order events without the customer name and address, and backs the source records up under source/', async () => {
    // Prepare
    const customerId = uniqueCustomer('lake');
    // Act
    const placed = await t.api.postOrder(physicalOrder(customerId));
    expect(placed.status).toBe(202);
    const orderId = String(placed.body.orderId);
    // Assess
    const rows = await waitFor(async () => {
      const mine = (await t.readLake()).filter((line) => line.event.orderId === orderId);
      return mine.length >= 3 ? mine : undefined;
    }, { timeoutMs: 20_000, what: `order ${orderId}'s three rows in the lake` });
    const placedRow = rows.find((row) => row.event.type === 'OrderPlaced')?.event;
    expect(placedRow).toMatchObject({ customerid: customerId, shipcountry: 'GB', itemcount: 2, totalcents: 2598 });
    expect(JSON.stringify(rows)).not.toMatch(/Ada|1 Main St|Leeds|LS1 1AA/);
    // Parquet, as Firehose's record format conversion writes it with the Glue table's columns.
    for (const row of rows) expect(row.key).toMatch(/^events\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.parquet$/);
    expect(Object.keys(placedRow ?? {})).toEqual(expect.arrayContaining([...LAKE_COLUMNS]));
    expect(placedRow?.occurredat).toBeInstanceOf(Date);
    const backup = await waitFor(async () => {
      const texts = (await objectsUnder('source/')).filter((object) => object.text.includes(orderId));
      return texts.length > 0 ? texts : undefined;
    }, { timeoutMs: 20_000, what: `order ${orderId}'s source records under source/` });
    expect(backup[0]?.key).toMatch(/^source\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.gz$/);
    expect(backup.map((object) => object.text).join('')).toContain('"name":"Ada"');
  });

  it('writes a record the function cannot read under errors/processing-failed/, as Firehose writes it', async () => {
    // Prepare
    const garbage = `not an order event ${Date.now()}\n`;
    // Act
    await t.clients.kinesis.send(new PutRecordCommand({ StreamName: t.names.streamName, PartitionKey: 'garbage', Data: Buffer.from(garbage) }));
    // Assess
    const rawData = Buffer.from(garbage).toString('base64');
    const failure = await waitFor(async () => {
      for (const object of await objectsUnder('errors/processing-failed/')) {
        const line = object.text.split('\n').find((text) => text.includes(rawData));
        if (line !== undefined) return { key: object.key, document: JSON.parse(line) as Record<string, unknown> };
      }
      return undefined;
    }, { timeoutMs: 20_000, what: 'the garbage record under errors/processing-failed/' });
    expect(failure.key).toMatch(/^errors\/processing-failed\/year=\d{4}\/month=\d{2}\/day=\d{2}\//);
    expect(failure.document).toMatchObject({
      errorCode: 'Lambda.ProcessingFailedStatus',
      attemptsMade: 1,
      lambdaArn: expect.stringMatching(/:function:orderflow-local-transformLakeRecords$/),
      sequenceNumber: expect.any(String),
    });
    expect(t.logs.some((line) => line.includes('transformLakeRecords') && line.includes('record failed') && line.includes('garbage'))).toBe(true);
  });

  /** `npm run lake:query -- <argv>` against this cloud: its exit code and what it printed. */
  const lakeQuery = async (...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runLakeQuery([...argv, '--endpoint', t.cloud.edgeUrl], { out: (line) => out.push(line), err: (line) => err.push(line), env: {} });
    return { code, out, err };
  };

  it('npm run lake:query runs SQL over the lake with DuckDB, through the Glue table, qualified or not', async () => {
    // Prepare
    const placed = await t.api.postOrder(physicalOrder(uniqueCustomer('lake-sql')));
    const orderId = String(placed.body.orderId);
    await waitFor(async () => ((await t.readLake()).filter((line) => line.event.orderId === orderId).length >= 3 ? true : undefined), {
      timeoutMs: 20_000,
      what: `order ${orderId}'s rows in the lake`,
    });
    // Act
    const byType = await lakeQuery(`select type, totalcents, shipcountry, year, month from order_events where orderid = '${orderId}' order by occurredat, type`, '--json');
    const qualified = await lakeQuery(`select count(*) as n from orderflow_local.order_events where orderid = '${orderId}'`);
    // Assess
    expect(byType.err).toEqual([]);
    expect(byType.code).toBe(0);
    const rows = byType.out.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((row) => row.type).sort()).toEqual(['OrderCharged', 'OrderPlaced', 'OrderShipped']);
    expect(rows.find((row) => row.type === 'OrderPlaced')).toMatchObject({ totalcents: '2598', shipcountry: 'GB', year: String(new Date().getUTCFullYear()) });
    expect(rows.every((row) => /^\d{2}$/.test(String(row.month)))).toBe(true);
    expect(qualified.code).toBe(0);
    expect(qualified.out).toEqual(['n', '-', '3', '(1 row)']);
  });

  it('npm run lake:query names the SQL error, and asks for the SQL when it is missing', async () => {
    const failed = await lakeQuery('select nope from order_events');
    expect(failed.code).toBe(1);
    expect(failed.err.join('\n')).toMatch(/nope/);
    const missing = await lakeQuery();
    expect(missing.code).toBe(2);
    expect(missing.err.join('\n')).toMatch(/the SQL to run is missing\nusage: npm run lake:query/);
  });
});

/**
 * DynamoDB Time to Live, which dynalite lacks (no UpdateTimeToLive; DescribeTimeToLive always DISABLED): the edge
 * keeps each table's TTL attribute (in a file, so a restart keeps it) and a sweeper deletes expired items.
 *
 * AWS rules followed (DynamoDB API reference, UpdateTimeToLive / DescribeTimeToLive; developer guide, "Using
 * DynamoDB Time to Live (TTL)"):
 * - an item expires when its TTL attribute is a top-level Number of epoch seconds less than now, and not more than
 *   five years in the past; any other item is ignored;
 * - an expired item not yet deleted still shows in reads, and can still be updated: the delete is conditional on
 *   the item still being expired;
 * - enabling TTL that is enabled, or disabling TTL that is disabled, answers ValidationException.
 * Local differences: expired items are deleted within about `sweepIntervalMs`, longer on large tables (below)
 * (AWS: "typically within a few days");
 * the change of setting is immediate (AWS: up to one hour, and further UpdateTimeToLive calls are refused meanwhile).
 */
import { readJsonFile, writeJsonFileAtomic } from '../util/json-file.ts';
import { DynamoDbCallError, errorAnswer } from './dynamodb-call.ts';
import type { DynamoDbAnswer, DynamoDbCall, DynamoDbExtension, Json } from './dynamodb-call.ts';

interface DynamoDbTtlOptions {
  dynamodb: DynamoDbCall;
  /** Where the TTL attribute of each table is kept. */
  file: string;
  /** How often expired items are looked for; default 1000 ms. */
  sweepIntervalMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

interface TtlSetting {
  attribute: string;
  /** The table's CreationDateTime when TTL was enabled. */
  created: number;
}

interface DynamoDbTtl extends DynamoDbExtension {
  /** One pass over every table with TTL enabled; answers how many items it deleted. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

/** "no more than five years in the past" (developer guide, "Using DynamoDB Time to Live (TTL)"), in seconds. */
const FIVE_YEARS_SECONDS = 5 * 365.25 * 24 * 60 * 60;
/** A sweep waits this many times the last sweep's duration (at most ~5% of the time sweeping). */
const SWEEP_COST_FACTOR = 20;
/** AttributeName "Length Constraints: Minimum length of 1. Maximum length of 255." (UpdateTimeToLive). */
const MAX_ATTRIBUTE_NAME_LENGTH = 255;

function validation(message: string): DynamoDbCallError {
  return new DynamoDbCallError('ValidationException', message);
}

function createDynamoDbTtl(options: DynamoDbTtlOptions): DynamoDbTtl {
  const { dynamodb, file } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((): void => undefined);
  /**
   * Table name -> its TTL attribute and the table's creation time, for tables with TTL enabled: a table deleted and
   * created again under the same name starts with TTL disabled, as on AWS.
   */
  const enabled = new Map<string, TtlSetting>(Object.entries(readJsonFile<Record<string, TtlSetting>>(file, {})));
  const save = (): void => writeJsonFileAtomic(file, Object.fromEntries(enabled));

  /** The table's key attribute names and creation time; ResourceNotFoundException for a table that does not exist. */
  const describe = async (table: string): Promise<{ keyNames: string[]; created: number }> => {
    const described = ((await dynamodb('DescribeTable', { TableName: table })).Table ?? {}) as { KeySchema?: Array<{ AttributeName: string }>; CreationDateTime?: number };
    return { keyNames: (described.KeySchema ?? []).map((key) => key.AttributeName), created: Number(described.CreationDateTime ?? 0) };
  };

  /** The table's current TTL attribute, forgetting a setting of an earlier table of the same name. */
  const attributeOf = (table: string, created: number): string | undefined => {
    const setting = enabled.get(table);
    if (setting === undefined || setting.created === created) return setting?.attribute;
    enabled.delete(table);
    save();
    return undefined;
  };

  const tableName = (table: unknown): string => {
    if (typeof table !== 'string' || table === '') throw validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
    return table;
  };

  async function updateTimeToLive(input: Json): Promise<Json> {
    const table = tableName(input.TableName);
    const { created } = await describe(table);
    const specification = input.TimeToLiveSpecification as { AttributeName?: unknown; Enabled?: unknown } | undefined;
    const attribute = specification?.AttributeName;
    if (typeof attribute !== 'string' || attribute.length < 1 || attribute.length > MAX_ATTRIBUTE_NAME_LENGTH) {
      throw validation(`TimeToLiveSpecification.AttributeName must be a string of 1 to ${MAX_ATTRIBUTE_NAME_LENGTH} characters`);
    }
    if (typeof specification?.Enabled !== 'boolean') throw validation('TimeToLiveSpecification.Enabled must be true or false');
    const current = attributeOf(table, created);
    if (specification.Enabled) {
      if (current === attribute) throw validation('TimeToLive is already enabled');
      if (current !== undefined) throw validation(`TimeToLive is active on a different AttributeName: current AttributeName is ${current}`);
      enabled.set(table, { attribute, created });
    } else {
      if (current === undefined) throw validation('TimeToLive is already disabled');
      if (current !== attribute) throw validation(`TimeToLive is active on a different AttributeName: current AttributeName is ${current}`);
      enabled.delete(table);
    }
    save();
    return { TimeToLiveSpecification: { AttributeName: attribute, Enabled: specification.Enabled } };
  }

  async function describeTimeToLive(input: Json): Promise<Json> {
    const table = tableName(input.TableName);
    const attribute = attributeOf(table, (await describe(table)).created);
    return { TimeToLiveDescription: attribute === undefined ? { TimeToLiveStatus: 'DISABLED' } : { TimeToLiveStatus: 'ENABLED', AttributeName: attribute } };
  }

  /** Deletes the expired items of one table; a table that is gone loses its TTL setting. */
  async function sweepTable(table: string): Promise<number> {
    let keyNames: string[];
    let attribute: string | undefined;
    try {
      const described = await describe(table);
      keyNames = described.keyNames;
      attribute = attributeOf(table, described.created);
    } catch (error) {
      if (error instanceof DynamoDbCallError && error.code === 'ResourceNotFoundException') {
        enabled.delete(table);
        save();
        return 0;
      }
      throw error;
    }
    if (attribute === undefined) return 0;
    const nowSeconds = Math.floor(now() / 1000);
    const expiry = { ExpressionAttributeNames: { '#ttl': attribute }, ExpressionAttributeValues: { ':now': { N: String(nowSeconds) }, ':oldest': { N: String(nowSeconds - FIVE_YEARS_SECONDS) } } };
    // A comparison with a Number is false for any other type: a String TTL attribute is ignored, as on AWS.
    const condition = '#ttl < :now AND #ttl >= :oldest';
    let deleted = 0;
    let start: Json | undefined;
    do {
      const page = await dynamodb('Scan', { TableName: table, FilterExpression: condition, ...expiry, ...(start === undefined ? {} : { ExclusiveStartKey: start }) });
      for (const item of (page.Items ?? []) as Json[]) {
        const key = Object.fromEntries(keyNames.map((name) => [name, item[name]]));
        try {
          await dynamodb('DeleteItem', { TableName: table, Key: key, ConditionExpression: condition, ...expiry });
          deleted += 1;
        } catch (error) {
          // Updated since the scan (its TTL moved or was removed): not expired any more.
          if (!(error instanceof DynamoDbCallError && error.code === 'ConditionalCheckFailedException')) throw error;
        }
      }
      start = page.LastEvaluatedKey as Json | undefined;
    } while (start !== undefined);
    return deleted;
  }

  async function sweep(): Promise<number> {
    let deleted = 0;
    for (const table of [...enabled.keys()]) deleted += await sweepTable(table);
    return deleted;
  }

  // A sweep scans each table with TTL whole (2,000 items of ~300 bytes: 36 ms a full Scan, mean of 5, with the SDK
  // through the edge on the 2-core test machine): the next sweep waits SWEEP_COST_FACTOR times as long as the last one took, at
  // least sweepIntervalMs, so the sweeper never takes more than about 5% of the event loop however large a table is.
  const interval = options.sweepIntervalMs ?? 1000;
  let sweeping: Promise<unknown> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const schedule = (delayMs: number): void => {
    if (closed) return;
    timer = setTimeout(() => {
      const started = now();
      sweeping = sweep()
        .catch((error: unknown) => log(`[dynamodb-ttl] sweep failed: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          sweeping = undefined;
          schedule(Math.max(interval, (now() - started) * SWEEP_COST_FACTOR));
        });
    }, delayMs);
    timer.unref();
  };
  schedule(interval);

  return {
    handles: (operation) => operation === 'UpdateTimeToLive' || operation === 'DescribeTimeToLive',
    async handle(operation, input): Promise<DynamoDbAnswer> {
      try {
        return { statusCode: 200, body: operation === 'UpdateTimeToLive' ? await updateTimeToLive(input) : await describeTimeToLive(input) };
      } catch (error) {
        return errorAnswer(error);
      }
    },
    sweep,
    async close() {
      closed = true;
      clearTimeout(timer);
      await sweeping;
    },
  };
}

export { createDynamoDbTtl };
export type { DynamoDbTtl };

/**
 * DynamoDB `TransactWriteItems` and `TransactGetItems`, which dynalite lacks (UnknownOperationException), built at
 * the edge on dynalite's single-item operations.
 *
 * AWS rules followed (DynamoDB API reference, TransactWriteItems / TransactGetItems; developer guide, "Amazon
 * DynamoDB Transactions: How it works"):
 * - all or nothing: if any condition fails, nothing is written and the answer is TransactionCanceledException with
 *   one CancellationReasons entry per action, in request order (`ConditionalCheckFailed`, or `None`), the item when
 *   the action asked `ReturnValuesOnConditionCheckFailure: ALL_OLD`;
 * - up to 100 actions; no two actions on one item (ValidationException);
 * - ClientRequestToken: a repeat within 10 minutes answers success without writing again; the same token with other
 *   parameters answers IdempotentParameterMismatchException; while the first is running, TransactionInProgressException.
 *
 * How: transactions (and transactional reads) run one at a time. Every condition is first evaluated without
 * writing (an UpdateItem with no update, or a DeleteItem of an absent item, carrying the condition), so a failed
 * transaction writes nothing. Then each write is applied with its condition; if one still fails (a single-item
 * write by another client changed the item meanwhile), the writes already applied are undone from the images read
 * before them. Known difference: a single-item write to the same item by another client during that window is
 * not isolated from the transaction (DynamoDB would answer it TransactionConflict).
 */
import { createHash } from 'node:crypto';
import { DynamoDbCallError, errorAnswer } from './dynamodb-call.ts';
import type { DynamoDbAnswer, DynamoDbCall, DynamoDbExtension, Json } from './dynamodb-call.ts';

type ActionKind = 'ConditionCheck' | 'Put' | 'Update' | 'Delete';

interface Action {
  kind: ActionKind;
  params: Json;
  table: string;
  key: Json;
}

interface CancellationReason {
  Code: string;
  Message?: string;
  Item?: Json;
}

/** "TransactItems ... Maximum number of 100 items" (DynamoDB API reference, TransactWriteItems, TransactGetItems). */
const MAX_ACTIONS = 100;
/** "A client request token is valid for 10 minutes after the first request that uses it is completed" (TransactWriteItems). */
const TOKEN_WINDOW_MS = 10 * 60 * 1000;
/** ClientRequestToken "Length Constraints: Minimum length of 1. Maximum length of 36." (TransactWriteItems). */
const MAX_TOKEN_LENGTH = 36;

const KINDS: ActionKind[] = ['ConditionCheck', 'Put', 'Update', 'Delete'];

function validation(message: string): DynamoDbCallError {
  return new DynamoDbCallError('ValidationException', message);
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Attribute maps compared by content: keys sorted at every level. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isJson(value)) return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  return JSON.stringify(value);
}

/** The placeholders of `names` / `values` that `expression` uses (DynamoDB refuses unused ones). */
function usedIn(expression: string, placeholders: unknown): Json | undefined {
  if (!isJson(placeholders)) return undefined;
  const used = Object.fromEntries(
    Object.entries(placeholders).filter(([placeholder]) => new RegExp(`${placeholder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`).test(expression)),
  );
  return Object.keys(used).length > 0 ? used : undefined;
}

function createDynamoDbTransactions(options: { dynamodb: DynamoDbCall; now?: () => number }): DynamoDbExtension {
  const { dynamodb } = options;
  const now = options.now ?? Date.now;
  const keySchemas = new Map<string, string[]>();
  const tokens = new Map<string, { fingerprint: string; at: number }>();
  const running = new Set<string>();
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every transaction before it (one at a time). */
  function serialised<T>(work: () => Promise<T>): Promise<T> {
    const result = queue.then(work, work);
    queue = result.catch(() => undefined);
    return result;
  }

  async function keyAttributes(table: string): Promise<string[]> {
    const known = keySchemas.get(table);
    if (known !== undefined) return known;
    const described = await dynamodb('DescribeTable', { TableName: table });
    const names = (((described.Table as Json | undefined)?.KeySchema ?? []) as Array<{ AttributeName: string }>).map((key) => key.AttributeName);
    keySchemas.set(table, names);
    return names;
  }

  /** Validates the TransactItems list and names every action's item. */
  async function parseActions(items: unknown, allowed: readonly string[], field: string): Promise<Action[]> {
    if (!Array.isArray(items) || items.length === 0) throw validation(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
    if (items.length > MAX_ACTIONS) {
      throw validation(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ACTIONS}`);
    }
    const actions: Action[] = [];
    const seen = new Set<string>();
    for (const [index, item] of items.entries()) {
      const kinds = isJson(item) ? Object.keys(item).filter((name) => allowed.includes(name) && item[name] !== undefined && item[name] !== null) : [];
      if (kinds.length !== 1 || !isJson(item)) throw validation(`${field}.${index + 1}: exactly one of ${allowed.join(', ')} must be given`);
      const kind = kinds[0] as ActionKind;
      const params = item[kind];
      if (!isJson(params) || typeof params.TableName !== 'string' || params.TableName === '') throw validation(`${field}.${index + 1}.${kind}.TableName is required`);
      const table = params.TableName;
      const keyNames = await keyAttributes(table);
      let key: Json;
      if (kind === 'Put') {
        if (!isJson(params.Item)) throw validation(`${field}.${index + 1}.Put.Item is required`);
        const putItem = params.Item;
        const missing = keyNames.find((name) => putItem[name] === undefined);
        if (missing !== undefined) throw validation(`One or more parameter values were invalid: Missing the key ${missing} in the item (${field}.${index + 1}.Put.Item)`);
        key = Object.fromEntries(keyNames.map((name) => [name, putItem[name]]));
      } else {
        if (!isJson(params.Key)) throw validation(`${field}.${index + 1}.${kind}.Key is required`);
        key = params.Key;
      }
      if (kind === 'ConditionCheck' && typeof params.ConditionExpression !== 'string') throw validation(`${field}.${index + 1}.ConditionCheck.ConditionExpression is required`);
      if (kind === 'Update' && typeof params.UpdateExpression !== 'string') throw validation(`${field}.${index + 1}.Update.UpdateExpression is required`);
      const identity = `${table}\u0000${canonical(key)}`;
      if (seen.has(identity)) throw validation('Transaction request cannot include multiple operations on one item');
      seen.add(identity);
      actions.push({ kind, params, table, key });
    }
    return actions;
  }

  const isConditionFailure = (error: unknown): boolean => error instanceof DynamoDbCallError && error.code === 'ConditionalCheckFailedException';

  /** Evaluates an action's condition against the item as it is, writing nothing. */
  async function conditionHolds(action: Action): Promise<boolean> {
    const condition = action.params.ConditionExpression;
    if (typeof condition !== 'string') return true;
    const keyName = Object.keys(action.key)[0] ?? '';
    const names = { ...(usedIn(condition, action.params.ExpressionAttributeNames) ?? {}), '#txKey': keyName };
    const values = usedIn(condition, action.params.ExpressionAttributeValues);
    const check = (operation: string, guard: string): Promise<Json> =>
      dynamodb(operation, {
        TableName: action.table,
        Key: action.key,
        ConditionExpression: `(${condition}) AND ${guard}(#txKey)`,
        ExpressionAttributeNames: names,
        ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
      });
    for (const [operation, guard] of [['UpdateItem', 'attribute_exists'], ['DeleteItem', 'attribute_not_exists']] as const) {
      try {
        await check(operation, guard);
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    return false;
  }

  async function currentItem(action: Action): Promise<Json | undefined> {
    const out = await dynamodb('GetItem', { TableName: action.table, Key: action.key, ConsistentRead: true });
    return isJson(out.Item) ? out.Item : undefined;
  }

  async function failedReason(action: Action): Promise<CancellationReason> {
    const item = action.params.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? await currentItem(action) : undefined;
    return { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(item === undefined ? {} : { Item: item }) };
  }

  function cancelled(reasons: CancellationReason[]): DynamoDbCallError {
    const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`;
    return new DynamoDbCallError('TransactionCanceledException', message, 400, { CancellationReasons: reasons });
  }

  /** The single-item write of an action, with its condition. */
  async function write(action: Action): Promise<void> {
    const { ReturnValuesOnConditionCheckFailure: _returnValues, ...params } = action.params;
    const operation = action.kind === 'Put' ? 'PutItem' : action.kind === 'Update' ? 'UpdateItem' : 'DeleteItem';
    await dynamodb(operation, params);
  }

  async function undo(action: Action, before: Json | undefined): Promise<void> {
    if (before === undefined) await dynamodb('DeleteItem', { TableName: action.table, Key: action.key });
    else await dynamodb('PutItem', { TableName: action.table, Item: before });
  }

  async function transactWrite(input: Json): Promise<Json> {
    const actions = await parseActions(input.TransactItems, KINDS, 'transactItems');
    const reasons: CancellationReason[] = [];
    for (const action of actions) reasons.push((await conditionHolds(action)) ? { Code: 'None' } : await failedReason(action));
    if (reasons.some((reason) => reason.Code !== 'None')) throw cancelled(reasons);
    const applied: Array<{ action: Action; before: Json | undefined }> = [];
    for (const [index, action] of actions.entries()) {
      if (action.kind === 'ConditionCheck') continue;
      const before = await currentItem(action);
      try {
        await write(action);
        applied.push({ action, before });
      } catch (error) {
        for (const done of applied.reverse()) await undo(done.action, done.before);
        if (!isConditionFailure(error)) throw error;
        throw cancelled(await Promise.all(actions.map((other, at) => (at === index ? failedReason(other) : Promise.resolve({ Code: 'None' })))));
      }
    }
    return {};
  }

  async function transactGet(input: Json): Promise<Json> {
    const actions = await parseActions(input.TransactItems, ['Get'], 'transactItems');
    const responses: Json[] = [];
    for (const action of actions) {
      const { TableName, Key, ProjectionExpression, ExpressionAttributeNames } = action.params;
      const out = await dynamodb('GetItem', {
        TableName,
        Key,
        ConsistentRead: true,
        ...(ProjectionExpression === undefined ? {} : { ProjectionExpression }),
        ...(ExpressionAttributeNames === undefined ? {} : { ExpressionAttributeNames }),
      });
      responses.push(isJson(out.Item) ? { Item: out.Item } : {});
    }
    return { Responses: responses };
  }

  /** ClientRequestToken: answers the earlier success again, or refuses a reuse with other parameters. */
  async function idempotent(input: Json, run: () => Promise<Json>): Promise<Json> {
    const token = input.ClientRequestToken;
    if (token === undefined || token === null) return run();
    if (typeof token !== 'string' || token.length < 1 || token.length > MAX_TOKEN_LENGTH) {
      throw validation(`1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length from 1 to ${MAX_TOKEN_LENGTH}`);
    }
    for (const [old, entry] of tokens) if (now() - entry.at > TOKEN_WINDOW_MS) tokens.delete(old);
    const { ClientRequestToken: _token, ReturnConsumedCapacity: _capacity, ReturnItemCollectionMetrics: _metrics, ...request } = input;
    const fingerprint = createHash('sha256').update(canonical(request)).digest('hex');
    const earlier = tokens.get(token);
    if (running.has(token)) throw new DynamoDbCallError('TransactionInProgressException', `A transaction with ClientRequestToken ${token} is still in progress`);
    if (earlier !== undefined) {
      if (earlier.fingerprint !== fingerprint) {
        throw new DynamoDbCallError('IdempotentParameterMismatchException', `ClientRequestToken ${token} was used within 10 minutes with other parameters`);
      }
      return {};
    }
    running.add(token);
    try {
      const output = await run();
      tokens.set(token, { fingerprint, at: now() });
      return output;
    } finally {
      running.delete(token);
    }
  }

  return {
    handles: (operation) => operation === 'TransactWriteItems' || operation === 'TransactGetItems',
    async handle(operation, input): Promise<DynamoDbAnswer> {
      try {
        const output =
          operation === 'TransactWriteItems'
            ? await idempotent(input, () => serialised(() => transactWrite(input)))
            : await serialised(() => transactGet(input));
        return { statusCode: 200, body: output };
      } catch (error) {
        return errorAnswer(error);
      }
    },
  };
}

export { createDynamoDbTransactions };

import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/*
 * Small, strict stand-ins for the two tables, answering through aws-sdk-client-mock like DynamoDB would: conditions
 * are evaluated, a failed one throws the SDK's ConditionalCheckFailedException, and an expression DynamoDB would
 * reject (an empty IN list, an unused attribute value) throws a ValidationException. An expression shape they do
 * not know fails the test loudly rather than being guessed at.
 */

const conditionFailed = (Item?: Record<string, AttributeValue>): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 }, ...(Item ? { Item } : {}) });

const validationError = (message: string): DynamoDBServiceException =>
  new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', message, $metadata: { httpStatusCode: 400 } });

/** DynamoDB rejects a request whose ExpressionAttributeNames or Values hold a key no expression uses. */
const checkAllUsed = (expressions: (string | undefined)[], names: object = {}, values: object = {}): void => {
  const text = expressions.filter(Boolean).join(' ');
  const unusedValues = Object.keys(values).filter((key) => !new RegExp(`${key}\\b`).test(text));
  if (unusedValues.length > 0) throw validationError(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
  const unusedNames = Object.keys(names).filter((key) => !new RegExp(`${key}\\b`).test(text));
  if (unusedNames.length > 0) throw validationError(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
};

// --- the Orders table, through the document client ------------------------------------------------------------

type OrderItem = Record<string, unknown>;

interface FakeOrdersTable {
  /** Items by orderId, as plain objects. */
  items: Map<string, OrderItem>;
  /** Makes every write the predicate matches fail with `error` before it is applied (until the test ends). */
  failWhen(predicate: (input: UpdateCommandInput) => boolean, error: Error): void;
}

const SET_ASSIGNMENT = /(#\w+) = (?:if_not_exists\((#\w+), (:\w+)\)|(:\w+))/g;

/** `ADD #set :values`: adds the members of a string set (DynamoDB creates the set when absent). */
const ADD_CLAUSE = / ADD (#\w+) (:\w+)$/;

const applySet = (item: OrderItem, input: UpdateCommandInput): void => {
  const fullExpression = input.UpdateExpression ?? '';
  const names = input.ExpressionAttributeNames ?? {};
  const values = input.ExpressionAttributeValues ?? {};
  const add = ADD_CLAUSE.exec(fullExpression);
  const expression = add ? fullExpression.slice(0, add.index) : fullExpression;
  if (!expression.startsWith('SET ')) throw new Error(`fake Orders table: unsupported UpdateExpression ${fullExpression}`);
  const assignments = [...expression.slice(4).matchAll(SET_ASSIGNMENT)];
  if (assignments.map((match) => match[0]).join(', ') !== expression.slice(4)) {
    throw new Error(`fake Orders table: unsupported UpdateExpression ${fullExpression}`);
  }
  if (add) {
    const attribute = names[add[1] as string] as string;
    const members = values[add[2] as string];
    if (!(members instanceof Set)) throw validationError('An operand in the update expression has an incorrect data type');
    item[attribute] = new Set([...((item[attribute] as Set<string> | undefined) ?? []), ...members]);
  }
  for (const [, target, ifNotExistsName, ifNotExistsValue, plainValue] of assignments) {
    const attribute = names[target as string] as string;
    if (ifNotExistsName !== undefined) {
      if (ifNotExistsName !== target) throw new Error('fake Orders table: if_not_exists on another attribute');
      if (item[attribute] === undefined) item[attribute] = structuredClone(values[ifNotExistsValue as string]);
    } else {
      item[attribute] = structuredClone(values[plainValue as string]);
    }
  }
};

const conditionHolds = (item: OrderItem | undefined, input: UpdateCommandInput): boolean => {
  const names = input.ExpressionAttributeNames ?? {};
  const values = input.ExpressionAttributeValues ?? {};
  // Like DynamoDB, parse the whole expression before evaluating any of it.
  const terms = (input.ConditionExpression as string).split(' OR ').map((term): (() => boolean) => {
    const notExists = /^attribute_not_exists\((#\w+)\)$/.exec(term);
    if (notExists) return () => item?.[names[notExists[1] as string] as string] === undefined;
    const inList = /^(#\w+) IN \(([^)]*)\)$/.exec(term);
    if (inList) {
      if ((inList[2] as string).trim() === '') throw validationError('Invalid ConditionExpression: Syntax error; token: ")", near: "IN ()"');
      return () => (inList[2] as string).split(', ').some((key) => values[key] === item?.[names[inList[1] as string] as string]);
    }
    throw new Error(`fake Orders table: unsupported ConditionExpression term ${term}`);
  });
  return terms.some((holds) => holds());
};

/**
 * A fake Orders table behind a mocked DynamoDBDocumentClient: UpdateCommand (SET with if_not_exists, conditions
 * `attribute_not_exists(#x)` and `#x IN (...)` joined by OR, ReturnValues ALL_NEW) and GetCommand.
 *
 * @example
 * const table = fakeOrdersTable(mockClient(DynamoDBDocumentClient));
 */
const fakeOrdersTable = (mock: AwsClientStub<DynamoDBDocumentClient>): FakeOrdersTable => {
  const items = new Map<string, OrderItem>();
  const failures: { predicate: (input: UpdateCommandInput) => boolean; error: Error }[] = [];
  mock.on(UpdateCommand).callsFake(async (input: UpdateCommandInput) => {
    const failure = failures.find(({ predicate }) => predicate(input));
    if (failure) throw failure.error;
    checkAllUsed([input.UpdateExpression, input.ConditionExpression], input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const orderId = (input.Key as { orderId: string }).orderId;
    const current = items.get(orderId);
    if (input.ConditionExpression !== undefined && !conditionHolds(current, input)) throw conditionFailed();
    const next: OrderItem = structuredClone(current ?? { orderId });
    applySet(next, input);
    items.set(orderId, next);
    return input.ReturnValues === 'ALL_NEW' ? { Attributes: structuredClone(next) } : {};
  });
  mock.on(GetCommand).callsFake(async (input: { Key: { orderId: string } }) => {
    const item = items.get(input.Key.orderId);
    return item ? { Item: structuredClone(item) } : {};
  });
  return { items, failWhen: (predicate, error) => failures.push({ predicate, error }) };
};

// --- the Powertools idempotency table, through the low-level client -------------------------------------------

interface FakeIdempotencyTable {
  /** Items by id, in DynamoDB JSON as the persistence layer wrote them. */
  items: Map<string, Record<string, AttributeValue>>;
  /** The items as plain objects (status, expiration, data, validation...). */
  records(): Record<string, unknown>[];
}

/** The condition DynamoDBPersistenceLayer (Powertools 2.35) puts on PutItem: a new key, an expired one, or an expired in-progress one. */
const POWERTOOLS_PUT_CONDITION =
  'attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)';

const canOverwrite = (existing: Record<string, AttributeValue>, input: PutItemCommandInput): boolean => {
  if (input.ConditionExpression !== POWERTOOLS_PUT_CONDITION) {
    throw new Error(`fake idempotency table: unexpected ConditionExpression ${input.ConditionExpression}`);
  }
  const name = (placeholder: string): string => input.ExpressionAttributeNames?.[placeholder] as string;
  const value = (placeholder: string): AttributeValue => input.ExpressionAttributeValues?.[placeholder] as AttributeValue;
  const number = (attribute: AttributeValue | undefined): number | undefined => (attribute?.N === undefined ? undefined : Number(attribute.N));
  const expiry = number(existing[name('#expiry')]);
  if (expiry !== undefined && expiry < Number(value(':now').N)) return true;
  const inProgressExpiry = number(existing[name('#in_progress_expiry')]);
  return (
    existing[name('#status')]?.S === value(':inprogress').S &&
    inProgressExpiry !== undefined &&
    inProgressExpiry < Number(value(':now_in_millis').N)
  );
};

/**
 * A fake Powertools idempotency table behind a mocked DynamoDBClient: PutItem honours the persistence layer's
 * condition and, when it fails, throws ConditionalCheckFailedException carrying the stored Item (what
 * ReturnValuesOnConditionCheckFailure ALL_OLD returns, and what the persistence layer reads); UpdateItem, GetItem
 * and DeleteItem act on the stored items.
 *
 * @example
 * const idempotency = fakeIdempotencyTable(mockClient(DynamoDBClient));
 */
const fakeIdempotencyTable = (mock: AwsClientStub<DynamoDBClient>): FakeIdempotencyTable => {
  const items = new Map<string, Record<string, AttributeValue>>();
  const keyOf = (key: Record<string, AttributeValue> | undefined): string => key?.id?.S ?? '';
  mock.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
    checkAllUsed([input.ConditionExpression], input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const id = keyOf(input.Item);
    const existing = items.get(id);
    if (existing && !canOverwrite(existing, input)) {
      throw conditionFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? structuredClone(existing) : undefined);
    }
    items.set(id, structuredClone(input.Item as Record<string, AttributeValue>));
    return {};
  });
  mock.on(UpdateItemCommand).callsFake(async (input: UpdateItemCommandInput) => {
    checkAllUsed([input.UpdateExpression], input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const id = keyOf(input.Key);
    const item = structuredClone(items.get(id) ?? { ...input.Key });
    const expression = input.UpdateExpression ?? '';
    if (!expression.startsWith('SET ')) throw new Error(`fake idempotency table: unsupported UpdateExpression ${expression}`);
    for (const assignment of expression.slice(4).split(', ')) {
      const [namePlaceholder, valuePlaceholder] = assignment.split(' = ') as [string, string];
      item[input.ExpressionAttributeNames?.[namePlaceholder] as string] = input.ExpressionAttributeValues?.[valuePlaceholder] as AttributeValue;
    }
    items.set(id, item);
    return {};
  });
  mock.on(GetItemCommand).callsFake(async (input: { Key: Record<string, AttributeValue> }) => {
    const item = items.get(keyOf(input.Key));
    return item ? { Item: structuredClone(item) } : {};
  });
  mock.on(DeleteItemCommand).callsFake(async (input: { Key: Record<string, AttributeValue> }) => {
    items.delete(keyOf(input.Key));
    return {};
  });
  return { items, records: () => [...items.values()].map((item) => unmarshall(item)) };
};

export type { FakeOrdersTable, FakeIdempotencyTable };
export { fakeOrdersTable, fakeIdempotencyTable };

/**
 * What IAM authorizes for one request at the edge: the IAM actions, the resource ARNs and the condition keys the
 * request carries, from its service, operation and parameters (pure: no I/O). Names follow the IAM service
 * authorization reference ("Actions, resources, and condition keys for <service>"), which is not always the API's:
 *
 * - SQS `SendMessageBatch`, `DeleteMessageBatch`, `ChangeMessageVisibilityBatch` are authorized as the single
 *   actions (SQS developer guide, "Amazon SQS API permissions: Actions and resource reference").
 * - SNS `PublishBatch` is authorized as `sns:Publish` (SNS API reference, PublishBatch).
 * - DynamoDB `TransactWriteItems` / `TransactGetItems` are authorized per item as `PutItem`, `UpdateItem`,
 *   `DeleteItem`, `ConditionCheckItem`, `GetItem` (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
 * - S3 is authorized by permission, not operation: `HeadObject` needs `s3:GetObject`, a multipart upload
 *   `s3:PutObject`, `ListObjectsV2` and `HeadBucket` `s3:ListBucket` (S3 user guide, "Required permissions for
 *   Amazon S3 API operations").
 */
import { xmlElements, unescapeXml } from '../util/xml.ts';
import { secretArn } from '../template/template.ts';

/** One authorization IAM makes for a request (a request may need several: a copy, a transaction, a batch). */
interface Authorization {
  action: string;
  /** The resource ARN, or `*` for actions without a resource type (`sqs:ListQueues`). */
  resource: string;
  /** Condition keys the request carries (service-specific: `dynamodb:LeadingKeys`, `s3:prefix`). */
  context?: Record<string, string | string[]>;
}

interface ArnScope {
  partition: string;
  region: string;
  accountId: string;
}

/** A request as the edge sees it, after classification. */
type ClassifiedRequest =
  | { protocol: 'json'; service: 'dynamodb' | 'kinesis' | 'firehose' | 'glue' | 'secretsmanager' | 'sqs'; operation: string; input: Record<string, unknown> }
  | { protocol: 'query'; service: 'sqs' | 'sns' | 'sts' | 'cloudformation'; operation: string; params: URLSearchParams }
  | { protocol: 's3'; operation: string; bucket?: string; key: string; query: URLSearchParams; copySource?: string; deleteBody?: string };

/** The partition key attribute of each table (from the template's KeySchema), for `dynamodb:LeadingKeys`. */
type HashKeyOf = (tableName: string) => string | undefined;

const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

const DYNAMODB_TRANSACT_ACTIONS: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

/** S3 operation (stats.ts's s3OperationOf) → the permission S3 checks. */
const S3_PERMISSIONS: Record<string, { action: string; on: 'object' | 'bucket' | 'none' }> = {
  GetObject: { action: 's3:GetObject', on: 'object' },
  HeadObject: { action: 's3:GetObject', on: 'object' },
  PutObject: { action: 's3:PutObject', on: 'object' },
  PostObject: { action: 's3:PutObject', on: 'object' },
  CopyObject: { action: 's3:PutObject', on: 'object' },
  UploadPart: { action: 's3:PutObject', on: 'object' },
  UploadPartCopy: { action: 's3:PutObject', on: 'object' },
  CreateMultipartUpload: { action: 's3:PutObject', on: 'object' },
  CompleteMultipartUpload: { action: 's3:PutObject', on: 'object' },
  AbortMultipartUpload: { action: 's3:AbortMultipartUpload', on: 'object' },
  DeleteObject: { action: 's3:DeleteObject', on: 'object' },
  ListObjects: { action: 's3:ListBucket', on: 'bucket' },
  ListObjectsV2: { action: 's3:ListBucket', on: 'bucket' },
  HeadBucket: { action: 's3:ListBucket', on: 'bucket' },
  CreateBucket: { action: 's3:CreateBucket', on: 'bucket' },
  DeleteBucket: { action: 's3:DeleteBucket', on: 'bucket' },
  PutBucketPolicy: { action: 's3:PutBucketPolicy', on: 'bucket' },
  GetBucketNotificationConfiguration: { action: 's3:GetBucketNotification', on: 'bucket' },
  PutBucketNotificationConfiguration: { action: 's3:PutBucketNotification', on: 'bucket' },
};

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** `https://host/000000000000/orders-queue` → `orders-queue`. */
function queueNameOf(queueUrl: string): string {
  return queueUrl.replace(/\/+$/, '').split('/').pop() ?? queueUrl;
}

function arnOf(scope: ArnScope, service: string, resource: string): string {
  return `arn:${scope.partition}:${service}:${scope.region}:${scope.accountId}:${resource}`;
}

function tableArn(scope: ArnScope, table: string, index?: string): string {
  const base = table.startsWith('arn:') ? table : arnOf(scope, 'dynamodb', `table/${table}`);
  return index === undefined ? base : `${base}/index/${index}`;
}

/** The scalar value of a DynamoDB attribute (`{ S: 'x' }`, `{ N: '1' }`), for `dynamodb:LeadingKeys`. */
function scalarOf(attribute: unknown): string | undefined {
  if (typeof attribute !== 'object' || attribute === null) return undefined;
  const value = Object.values(attribute as Record<string, unknown>)[0];
  return typeof value === 'string' ? value : undefined;
}

function leadingKeys(table: string, item: unknown, hashKeyOf: HashKeyOf): Record<string, string[]> | undefined {
  const hashKey = hashKeyOf(table.startsWith('arn:') ? (table.split('/')[1] ?? table) : table);
  if (hashKey === undefined || typeof item !== 'object' || item === null) return undefined;
  const value = scalarOf((item as Record<string, unknown>)[hashKey]);
  return value === undefined ? undefined : { 'dynamodb:LeadingKeys': [value] };
}

function dynamoDbAuthorizations(operation: string, input: Record<string, unknown>, scope: ArnScope, hashKeyOf: HashKeyOf): Authorization[] {
  const withContext = (action: string, table: string, item?: unknown, index?: string): Authorization => {
    const context = item === undefined ? undefined : leadingKeys(table, item, hashKeyOf);
    return { action: `dynamodb:${action}`, resource: tableArn(scope, table, index), ...(context === undefined ? {} : { context }) };
  };
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = Array.isArray(input.TransactItems) ? (input.TransactItems as Record<string, Record<string, unknown>>[]) : [];
    return items.flatMap((entry) =>
      Object.entries(entry).map(([kind, detail]) => withContext(DYNAMODB_TRANSACT_ACTIONS[kind] ?? kind, String(detail.TableName), detail.Key ?? detail.Item)),
    );
  }
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const tables = typeof input.RequestItems === 'object' && input.RequestItems !== null ? Object.keys(input.RequestItems) : [];
    return tables.map((table) => withContext(operation, table));
  }
  // DynamoDB Streams' operations name the stream's ARN.
  const stream = str(input.StreamArn);
  if (stream !== undefined) return [{ action: `dynamodb:${operation}`, resource: stream }];
  const table = str(input.TableName) ?? str(input.ResourceArn);
  if (table === undefined) return [{ action: `dynamodb:${operation}`, resource: '*' }];
  return [withContext(operation, table, input.Key ?? input.Item, str(input.IndexName))];
}

function sqsAuthorization(operation: string, get: (name: string) => string | undefined, scope: ArnScope): Authorization {
  const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
  const queueUrl = get('QueueUrl');
  const queueName = queueUrl === undefined ? get('QueueName') : queueNameOf(queueUrl);
  return { action, resource: queueName === undefined ? '*' : arnOf(scope, 'sqs', queueName) };
}

function snsAuthorization(operation: string, params: URLSearchParams, scope: ArnScope): Authorization {
  const action = `sns:${operation === 'PublishBatch' ? 'Publish' : operation}`;
  const topic = params.get('TopicArn') ?? params.get('TargetArn') ?? params.get('ResourceArn');
  if (topic) return { action, resource: topic };
  if (operation === 'CreateTopic' && params.get('Name')) return { action, resource: arnOf(scope, 'sns', params.get('Name') as string) };
  // Subscription operations name the subscription, whose ARN is its topic's plus an id.
  const subscription = params.get('SubscriptionArn');
  if (subscription) return { action, resource: subscription.split(':').slice(0, 6).join(':') };
  return { action, resource: '*' };
}

function s3Authorizations(request: Extract<ClassifiedRequest, { protocol: 's3' }>, scope: ArnScope): Authorization[] {
  const { operation, bucket, key } = request;
  const permission = S3_PERMISSIONS[operation];
  if (bucket === undefined) return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
  const bucketArn = `arn:${scope.partition}:s3:::${bucket}`;
  if (permission === undefined) return [{ action: `s3:${operation}`, resource: key === '' ? bucketArn : `${bucketArn}/${key}` }];
  if (permission.on === 'bucket') {
    const prefix = request.query.get('prefix');
    return [{ action: permission.action, resource: bucketArn, ...(operation.startsWith('ListObjects') ? { context: { 's3:prefix': prefix ?? '' } } : {}) }];
  }
  const out: Authorization[] = [{ action: permission.action, resource: `${bucketArn}/${key}` }];
  // A copy also reads its source (`x-amz-copy-source: /bucket/key`, URL-encoded).
  if (request.copySource !== undefined) {
    const source = decodeURIComponent(request.copySource.split('?')[0] ?? '').replace(/^\//, '');
    out.push({ action: 's3:GetObject', resource: `arn:${scope.partition}:s3:::${source}` });
  }
  return out;
}

/** `DeleteObjects` (POST ?delete): one `s3:DeleteObject` per key of its XML body. */
function s3DeleteObjectsAuthorizations(bucket: string, body: string, scope: ArnScope): Authorization[] {
  return xmlElements(body, 'Object').map((object) => ({
    action: 's3:DeleteObject',
    resource: `arn:${scope.partition}:s3:::${bucket}/${unescapeXml(xmlElements(object, 'Key')[0] ?? '')}`,
  }));
}

/**
 * The authorizations one request needs.
 *
 * @example
 * authorizationsOf({ protocol: 'json', service: 'sqs', operation: 'SendMessageBatch', input: { QueueUrl: 'http://127.0.0.1:4566/000000000000/q' } }, scope, () => undefined);
 * // → [{ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:q' }]
 */
function authorizationsOf(request: ClassifiedRequest, scope: ArnScope, hashKeyOf: HashKeyOf): Authorization[] {
  switch (request.protocol) {
    case 'json': {
      const { service, operation, input } = request;
      if (service === 'dynamodb') return dynamoDbAuthorizations(operation, input, scope, hashKeyOf);
      if (service === 'sqs') return [sqsAuthorization(operation, (name) => str(input[name]), scope)];
      if (service === 'kinesis') {
        const stream = str(input.StreamARN) ?? (str(input.StreamName) === undefined ? undefined : arnOf(scope, 'kinesis', `stream/${String(input.StreamName)}`));
        return [{ action: `kinesis:${operation}`, resource: str(input.ConsumerARN) ?? stream ?? '*' }];
      }
      if (service === 'glue') {
        // A table's actions need the catalog, the database and the table (Glue developer guide, "Specifying AWS Glue
        // resource ARNs"); the catalog is what every Glue action touches.
        const database = str(input.DatabaseName) ?? str(input.Name);
        const tableInput = input.TableInput as Record<string, unknown> | undefined;
        const table = str(input.DatabaseName) === undefined ? undefined : (str(input.Name) ?? str(tableInput?.Name));
        return [
          { action: `glue:${operation}`, resource: arnOf(scope, 'glue', 'catalog') },
          ...(database === undefined ? [] : [{ action: `glue:${operation}`, resource: arnOf(scope, 'glue', `database/${database}`) }]),
          ...(database === undefined || table === undefined ? [] : [{ action: `glue:${operation}`, resource: arnOf(scope, 'glue', `table/${database}/${table}`) }]),
        ];
      }
      if (service === 'secretsmanager') {
        // By ARN, or by name (locally the ARN of a name is known: template.ts secretArn); CreateSecret by its Name.
        const id = str(input.SecretId) ?? str(input.Name);
        return [{ action: `secretsmanager:${operation}`, resource: id === undefined ? '*' : id.startsWith('arn:') ? id : secretArn(scope, id) }];
      }
      const deliveryStream = str(input.DeliveryStreamName);
      return [{ action: `firehose:${operation}`, resource: deliveryStream === undefined ? '*' : arnOf(scope, 'firehose', `deliverystream/${deliveryStream}`) }];
    }
    case 'query': {
      const { service, operation, params } = request;
      if (service === 'sqs') return [sqsAuthorization(operation, (name) => params.get(name) ?? undefined, scope)];
      if (service === 'sns') return [snsAuthorization(operation, params, scope)];
      if (service === 'cloudformation') {
        const stack = params.get('StackName');
        return [{ action: `cloudformation:${operation}`, resource: stack ? (stack.startsWith('arn:') ? stack : arnOf(scope, 'cloudformation', `stack/${stack}/*`)) : '*' }];
      }
      return [{ action: `sts:${operation}`, resource: '*' }];
    }
    case 's3':
      if (request.operation === 'DeleteObjects' && request.bucket !== undefined) return s3DeleteObjectsAuthorizations(request.bucket, request.deleteBody ?? '', scope);
      return s3Authorizations(request, scope);
  }
}

export { authorizationsOf, queueNameOf };
export type { Authorization, ClassifiedRequest };

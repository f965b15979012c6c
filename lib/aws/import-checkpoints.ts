import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documents } from './clients/dynamodb.ts';

/** One version of one import file: the notified bucket, key and ETag. */
interface ImportSource {
  bucket: string;
  key: string;
  eTag: string;
}

/** How far the import of one file version went: every accepted line up to `linesPublished` is published. */
interface ImportCheckpoint {
  linesPublished: number;
  done: boolean;
}

/**
 * The item id of a file version's checkpoint. The `import#` prefix keeps it apart from the Powertools records of
 * the same table (`<function name>#<hash>`), and ImportOrdersRole may touch only items with that prefix
 * (`dynamodb:LeadingKeys`). An S3 key is at most 1,024 bytes (S3 user guide, "Naming Amazon S3 objects"), the id
 * well within DynamoDB's 2,048-byte partition key (DynamoDB developer guide, "Quotas": partition key length).
 */
const checkpointId = ({ bucket, key, eTag }: ImportSource): string => `import#${bucket}/${key}#${eTag}`;

/**
 * Reads a file version's checkpoint (strongly consistent: a retry must see the last write); none yet means nothing
 * was published.
 *
 * @example
 * const { linesPublished, done } = await readImportCheckpoint(table, { bucket, key, eTag });
 */
const readImportCheckpoint = async (table: string, source: ImportSource): Promise<ImportCheckpoint> => {
  const { Item } = await documents.send(new GetCommand({ TableName: table, Key: { id: checkpointId(source) }, ConsistentRead: true }));
  return { linesPublished: typeof Item?.linesPublished === 'number' ? Item.linesPublished : 0, done: Item?.done === true };
};

/**
 * Records that every accepted line up to `linesPublished` is published (and, with `done`, that the import is
 * finished), expiring `expiresAfterSeconds` from now (the table's TTL attribute, `expiration`, in epoch seconds).
 * Conditional: a checkpoint never moves back, so a slower duplicate delivery cannot undo a faster one's progress;
 * that refusal is not an error. Returns whether this write was applied.
 *
 * @example
 * await saveImportCheckpoint(table, source, { linesPublished: 120, done: false }, 1_814_400);
 */
const saveImportCheckpoint = async (table: string, source: ImportSource, checkpoint: ImportCheckpoint, expiresAfterSeconds: number, now = new Date()): Promise<boolean> => {
  try {
    await documents.send(
      new UpdateCommand({
        TableName: table,
        Key: { id: checkpointId(source) },
        UpdateExpression: 'SET linesPublished = :lines, done = :done, expiration = :expiration',
        ConditionExpression: 'attribute_not_exists(id) OR (linesPublished <= :lines AND done = :false)',
        ExpressionAttributeValues: {
          ':lines': checkpoint.linesPublished,
          ':done': checkpoint.done,
          ':false': false,
          ':expiration': Math.floor(now.getTime() / 1000) + expiresAfterSeconds,
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};

export type { ImportCheckpoint, ImportSource };
export { readImportCheckpoint, saveImportCheckpoint };

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Created once per execution environment and reused. The SDK reads AWS_ENDPOINT_URL (how the local cloud works). */
const dynamodb = new DynamoDBClient({});
/** Plain JavaScript values in and out; undefined attributes are dropped rather than rejected. */
const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });

export { dynamodb, documents };

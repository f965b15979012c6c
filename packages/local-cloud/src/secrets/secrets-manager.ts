/**
 * Secrets Manager on the edge (JSON protocol, `X-Amz-Target: secretsmanager.<Operation>`), the operations a
 * template's secrets and the functions reading them need: CreateSecret, GetSecretValue, DescribeSecret. One
 * version per secret (AWSCURRENT): no rotation, no staging labels, no resource policies; values kept in a file of
 * the data directory readable by its owner only (0600), so a restart keeps every secret's value.
 *
 * Errors as Secrets Manager answers them (API reference, GetSecretValue / CreateSecret "Errors"):
 * ResourceNotFoundException, ResourceExistsException, InvalidParameterException.
 */
import { randomUUID } from 'node:crypto';
import { readJsonFile, writeTextFileAtomic } from '../util/json-file.ts';
import { AwsApiError } from '../util/errors.ts';
import { secretArn } from '../template/template.ts';

interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  secretString: string;
  versionId: string;
  createdDate: number;
}

interface SecretsScope {
  partition: string;
  region: string;
  accountId: string;
}

/** The secrets of one local cloud, persisted in `file`. */
class LocalSecretsManager {
  private readonly file: string;
  private readonly scope: SecretsScope;
  private readonly secrets: Map<string, StoredSecret>;

  constructor(file: string, scope: SecretsScope) {
    this.file = file;
    this.scope = scope;
    this.secrets = new Map(readJsonFile<StoredSecret[]>(file, []).map((secret) => [secret.name, secret]));
  }

  /**
   * Answers one operation.
   * @throws AwsApiError as Secrets Manager would answer
   */
  async handle(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (operation) {
      case 'CreateSecret':
        return this.create(input);
      case 'GetSecretValue': {
        const secret = this.find(input.SecretId);
        return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, SecretString: secret.secretString, VersionStages: ['AWSCURRENT'], CreatedDate: secret.createdDate };
      }
      case 'DescribeSecret': {
        const secret = this.find(input.SecretId);
        return { ARN: secret.arn, Name: secret.name, ...(secret.description ? { Description: secret.description } : {}), CreatedDate: secret.createdDate, VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] } };
      }
      default:
        throw new AwsApiError('UnknownOperationException', `The local cloud's Secrets Manager does not emulate ${operation} (CreateSecret, GetSecretValue and DescribeSecret are)`);
    }
  }

  private create(input: Record<string, unknown>): Record<string, unknown> {
    const name = input.Name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new AwsApiError('InvalidParameterException', 'Name must be 1 to 512 characters: letters, digits and /_+=.@-');
    }
    if (typeof input.SecretString !== 'string') throw new AwsApiError('InvalidParameterException', 'SecretString is required (SecretBinary is not emulated)');
    if (this.secrets.has(name)) throw new AwsApiError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    const createdDate = Date.now() / 1000;
    const secret: StoredSecret = {
      arn: secretArn(this.scope, name),
      name,
      ...(typeof input.Description === 'string' ? { description: input.Description } : {}),
      secretString: input.SecretString,
      versionId: typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : randomUUID(),
      createdDate,
    };
    this.secrets.set(name, secret);
    writeTextFileAtomic(this.file, JSON.stringify([...this.secrets.values()]), { mode: 0o600 });
    return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId };
  }

  /** By name or ARN (a partial ARN, without the six characters, is not emulated). */
  private find(secretId: unknown): StoredSecret {
    const id = String(secretId ?? '');
    const secret = this.secrets.get(id) ?? [...this.secrets.values()].find((candidate) => candidate.arn === id);
    if (secret === undefined) throw new AwsApiError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }
}

export { LocalSecretsManager };

/**
 * Secrets Manager on the edge: the template's AWS::SecretsManager::Secret resources are created at start
 * (GenerateSecretString generated as CloudFormation does, SecretString as given), read with the real SDK by ARN
 * or name, kept across restarts, and a function reads one only where its role allows secretsmanager:GetSecretValue.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../src/index.ts';
import { clientConfig, startFixtureCloud } from './helpers/emulators.ts';

describe('Local cloud: Secrets Manager for the template', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  let secrets: SecretsManagerClient;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-secrets-'));
    cloud = await startFixtureCloud(dataDir, { log: () => undefined });
    secrets = new SecretsManagerClient(clientConfig({ endpoint: cloud.edgeUrl, region: cloud.region }));
  });

  afterAll(async () => {
    secrets?.destroy();
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a generated secret as GenerateSecretString asks (48 letters and digits) under an ARN with a six-character suffix', async () => {
    // Prepare
    const arn = cloud.resources.SigningSecret?.arn ?? '';

    // Act
    const value = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));

    // Assess
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:fixture-local-SigningSecret-[A-Z0-9]{12}-[A-Z0-9]{6}$/);
    expect(value.SecretString).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(value.SecretString).toMatch(/[a-z]/);
    expect(value.SecretString).toMatch(/[A-Z]/);
    expect(value.SecretString).toMatch(/\d/);
    expect(value.VersionStages).toEqual(['AWSCURRENT']);
    expect((await stat(join(dataDir, 'edge', 'secrets.json'))).mode & 0o777).toBe(0o600);
  });

  it('reads a secret by name, and answers ResourceNotFoundException for an unknown one', async () => {
    // Act
    const named = await secrets.send(new GetSecretValueCommand({ SecretId: 'fixture-local/named' }));
    const missing = secrets.send(new GetSecretValueCommand({ SecretId: 'no-such-secret' }));

    // Assess
    expect(named.SecretString).toBe('{"user":"fixture"}');
    await expect(missing).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('keeps every value across a restart (nothing is generated twice)', async () => {
    // Prepare
    const arn = cloud.resources.SigningSecret?.arn ?? '';
    const before = (await secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    await cloud.stop();

    // Act
    cloud = await startFixtureCloud(dataDir, { log: () => undefined });
    secrets.destroy();
    secrets = new SecretsManagerClient(clientConfig({ endpoint: cloud.edgeUrl, region: cloud.region }));
    const after = (await secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;

    // Assess
    expect(cloud.resources.SigningSecret?.arn).toBe(arn);
    expect(after).toBe(before);
  });
});

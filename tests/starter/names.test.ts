import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidNameError, MAX_SERVICE_LENGTH, assertRegion, assertServiceName } from '../../scripts/starter/names.ts';

describe('Starter: service and region names', () => {
  it.each(['orderflow', 'acme-orders', 'shop2', 'a-b-c'])('accepts %s', (name) => {
    expect(() => assertServiceName(name)).not.toThrow();
  });

  it.each([
    ['ab', 'at least 3 characters'],
    ['a'.repeat(MAX_SERVICE_LENGTH + 1), `at most ${MAX_SERVICE_LENGTH} characters`],
    ['Acme', 'start with a lowercase letter'],
    ['1shop', 'start with a lowercase letter'],
    ['acme_orders', 'only lowercase letters, digits and hyphens'],
    ['acme.orders', 'only lowercase letters, digits and hyphens'],
    ['acme-', 'must not end with a hyphen'],
    ['acme--orders', 'must not hold "--"'],
    ['sthree-shop', 'reserved S3 bucket prefixes'],
  ])('refuses %s with the rule it breaks', (name, rule) => {
    // Act
    const act = (): void => assertServiceName(name);
    // Assess
    expect(act).toThrow(InvalidNameError);
    expect(act).toThrow(rule);
  });

  it('every accepted name yields bucket, queue and function names within AWS limits for an 8-character stage', () => {
    const stage = 'staging1';
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,40}$/), (name) => {
        try {
          assertServiceName(name);
        } catch {
          return; // refused: nothing to check
        }
        // S3: 3-63 characters (S3 user guide, "Bucket naming rules"); account ids have 12 digits.
        expect(`${name}-${stage}-documents-123456789012`.length).toBeLessThanOrEqual(63);
        // Lambda function names: at most 64 characters (Lambda quotas).
        expect(`${name}-${stage}-streamOrderEvents`.length).toBeLessThanOrEqual(64);
        // SQS queue names: at most 80 characters including ".fifo" (SQS quotas).
        expect(`${name}-${stage}-order-store-sub-dlq.fifo`.length).toBeLessThanOrEqual(80);
      }),
    );
  });

  it.each(['us-east-1', 'eu-west-2', 'ap-southeast-1', 'us-gov-west-1'])('accepts region %s', (region) => {
    expect(() => assertRegion(region)).not.toThrow();
  });

  it.each(['us-east', 'EU-WEST-1', 'mars-1'])('refuses region %s', (region) => {
    expect(() => assertRegion(region)).toThrow('a region is a code such as us-east-1');
  });
});

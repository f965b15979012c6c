import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, STAGES, packaging } from './helpers.ts';

// Credentials lookup order the variables below cut off: AWS SDKs and Tools Reference Guide, "Standardized
// credential providers" (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html) and
// "Location of the shared config and credentials files"
// (https://docs.aws.amazon.com/sdkref/latest/guide/file-location.html).
describe.each(STAGES)('Packaging (%s stage)', (stage) => {
  it('osls package compiles the template with no AWS credentials at all (no keys, no profile, no config files, no instance metadata)', async () => {
    const result = await packaging(stage);

    expect(result.ok, result.output).toBe(true);
    expect(existsSync(join(result.packageDir, 'cloudformation-template-update-stack.json'))).toBe(true);
    // What the osls process saw: only the three variables that switch credentials off.
    expect(Object.keys(result.awsEnv).sort()).toEqual(['AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_SHARED_CREDENTIALS_FILE']);
    expect(result.awsEnv.AWS_EC2_METADATA_DISABLED).toBe('true');
    expect(existsSync(result.awsEnv.AWS_CONFIG_FILE ?? '')).toBe(false);
    expect(existsSync(result.awsEnv.AWS_SHARED_CREDENTIALS_FILE ?? '')).toBe(false);
  });

  it("packages outside the checkout (--package dir and esbuild's work folder), leaving the shared .serverless/ and .esbuild/ alone", async () => {
    const result = await packaging(stage);

    for (const dir of [result.packageDir, result.serviceDir]) expect(relative(REPO_ROOT, dir).startsWith('..'), dir).toBe(true);
    expect(existsSync(join(result.serviceDir, '.esbuild', '.build', 'functions'))).toBe(true);
  });
});

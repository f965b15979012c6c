/**
 * The banner's and the README's endpoint instructions, run with every AWS CLI installed on this machine against the
 * local cloud: `--endpoint-url` for every version and service; `AWS_ENDPOINT_URL` and a profile's `endpoint_url` for
 * the versions that read them (v2 >= 2.13.0, v1 >= 1.29.0: AWS Developer Tools Blog, "New: Improved flexibility when
 * configuring endpoint URLs with the AWS SDKs and tools"). Only what should reach the edge is run: the cases that
 * would go to AWS itself (an older CLI, AWS CLI v1's `sqs`) are documented, not sent.
 * Skipped, saying so, when no AWS CLI is installed (`apt-get install awscli` gives Debian's v2, which `.ci/run` installs;
 * `pip install awscli` gives v1).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudForTests, type CloudUnderTest } from './helpers/cloud.ts';

const run = promisify(execFile);

interface AwsCli {
  path: string;
  version: string;
  major: number;
  minor: number;
}

/** Every `aws` on PATH (and Debian's /usr/bin/aws), one per version. */
const installedClis = (): AwsCli[] => {
  let paths: string[];
  try {
    paths = execFileSync('which', ['-a', 'aws'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    paths = [];
  }
  const byVersion = new Map<string, AwsCli>();
  for (const path of [...paths, '/usr/bin/aws']) {
    try {
      const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const match = /aws-cli\/((\d+)\.(\d+)\.\d+)/.exec(out);
      if (match && !byVersion.has(match[1] as string)) byVersion.set(match[1] as string, { path, version: match[1] as string, major: Number(match[2]), minor: Number(match[3]) });
    } catch {
      // not there, or not runnable: not a CLI to test
    }
  }
  return [...byVersion.values()];
};

/** AWS_ENDPOINT_URL and a profile's endpoint_url: AWS CLI v2 >= 2.13.0, v1 >= 1.29.0. */
const readsConfiguredEndpoint = (cli: AwsCli): boolean => (cli.major === 2 ? cli.minor >= 13 : cli.major === 1 && cli.minor >= 29);

const clis = installedClis();
const SKIP_REASON = 'no AWS CLI installed: apt-get install -y awscli (CI does it in .ci/run), or pip install awscli';
if (clis.length === 0) console.warn(`tests/integration/aws-cli.test.ts skipped: ${SKIP_REASON}`);

describe.skipIf(clis.length === 0)(clis.length === 0 ? `AWS CLI (skipped: ${SKIP_REASON})` : 'AWS CLI against the local cloud: the banner\'s endpoint instructions', () => {
  let t: CloudUnderTest;
  let configDir: string;

  beforeAll(async () => {
    t = await startCloudForTests('aws-cli');
    configDir = await mkdtemp(join(tmpdir(), 'orderflow-aws-cli-'));
    // The banner's profile, in a config file of its own (with --profile, the CLI reads no credentials from the environment).
    await writeFile(
      join(configDir, 'config'),
      `[profile local]\nendpoint_url = ${t.cloud.edgeUrl}\nregion = ${t.cloud.region}\naws_access_key_id = test\naws_secret_access_key = test\n`,
    );
  });

  afterAll(async () => {
    await t?.dispose();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  /** Runs the CLI with test credentials and no configuration of the user's own (their ~/.aws is not read). */
  const aws = async (cli: AwsCli, args: string[], env: Record<string, string> = {}): Promise<string> => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
    const { stdout } = await run(cli.path, [...args, '--output', 'json'], {
      env: {
        ...inherited,
        AWS_CONFIG_FILE: join(configDir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(configDir, 'credentials'),
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: t.cloud.region,
        AWS_DEFAULT_REGION: t.cloud.region,
        AWS_PAGER: '',
        ...env,
      },
      timeout: 30_000,
    });
    return stdout;
  };

  for (const cli of clis) {
    describe(`AWS CLI ${cli.version} (${cli.path})`, () => {
      it('aws --endpoint-url <edge> sqs list-queues lists the app\'s queues (every version)', async () => {
        // Act
        const out = JSON.parse(await aws(cli, ['--endpoint-url', t.cloud.edgeUrl, 'sqs', 'list-queues'])) as { QueueUrls: string[] };

        // Assess
        expect(out.QueueUrls).toContain(t.queueUrl('BillingQueue'));
      });

      it('aws --endpoint-url <edge> s3api list-buckets lists the app\'s buckets (every version)', async () => {
        const out = JSON.parse(await aws(cli, ['--endpoint-url', t.cloud.edgeUrl, 's3api', 'list-buckets'])) as { Buckets: { Name: string }[] };
        expect(out.Buckets.map((bucket) => bucket.Name)).toContain(t.names.documentsBucket);
      });

      it.runIf(readsConfiguredEndpoint(cli))('AWS_ENDPOINT_URL and --profile local (endpoint_url) reach the edge (v2 >= 2.13, v1 >= 1.29)', async () => {
        // Act: s3, which every version that reads the setting sends there (v1's sqs does not: see the banner)
        const viaEnv = JSON.parse(await aws(cli, ['s3api', 'list-buckets'], { AWS_ENDPOINT_URL: t.cloud.edgeUrl })) as { Buckets: { Name: string }[] };
        const viaProfile = JSON.parse(await aws(cli, ['--profile', 'local', 's3api', 'list-buckets'])) as { Buckets: { Name: string }[] };

        // Assess
        expect(viaEnv.Buckets.map((bucket) => bucket.Name)).toContain(t.names.documentsBucket);
        expect(viaProfile.Buckets.map((bucket) => bucket.Name)).toContain(t.names.documentsBucket);
      });

      it.runIf(readsConfiguredEndpoint(cli) && cli.major === 2)('AWS_ENDPOINT_URL reaches the edge for sqs too (v2 >= 2.13)', async () => {
        const out = JSON.parse(await aws(cli, ['sqs', 'list-queues'], { AWS_ENDPOINT_URL: t.cloud.edgeUrl })) as { QueueUrls: string[] };
        expect(out.QueueUrls).toContain(t.queueUrl('BillingQueue'));
      });
    });
  }
});

/**
 * The local cloud is safe to run on a laptop on a shared network and beside a browser: every socket it listens on
 * is on loopback; every server answers only loopback Host names (DNS rebinding); the edge refuses web pages (Origin);
 * the operator endpoints `/_local/*` need this run's token and JSON.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlHeaders, type LocalCloud } from '../src/index.ts';
import { startFixtureCloud } from './helpers/emulators.ts';
import { banner } from '../src/cli.ts';
import { hostRefusal, isAllowedHost } from '../src/edge/guard.ts';
import { rawRequest } from './helpers/raw-http.ts';
import { listeningSockets, type ListeningSocket } from './helpers/sockets.ts';


describe('guard: the Host allow-list (pure)', () => {
  it('allows loopback names on the server port, and *.localhost names where subdomains are served', () => {
    // Assess
    for (const host of ['127.0.0.1:4566', 'localhost:4566', 'LOCALHOST:4566', '[::1]:4566', 'localhost.:4566']) expect(isAllowedHost(host, { port: 4566 }), host).toBe(true);
    for (const host of ['docs.s3.localhost:4566', 'docs.localhost:4566', 'docs.s3.us-east-1.localhost:4566', 'sqs.us-east-1.localhost:4566']) {
      expect(isAllowedHost(host, { port: 4566, subdomains: true }), host).toBe(true);
      expect(isAllowedHost(host, { port: 4566 }), host).toBe(false);
    }
    expect(isAllowedHost('localhost', { port: 80 })).toBe(true);
    expect(isAllowedHost('127.0.0.1:9999', {})).toBe(true);
  });

  it('refuses other names, other ports, a missing Host and malformed ones, naming what is served', () => {
    // Assess
    for (const host of [undefined, '', 'rebound.example:4566', '127.0.0.2:4566', '192.168.1.10:4566', 'localhost:4567', 'localhost', 'localhost.evil.example:4566', '[::2]:4566', 'docs.s3.amazonaws.com:4566', 'a b:4566', 'localhost:4566:1']) {
      expect(isAllowedHost(host, { port: 4566, subdomains: true }), String(host)).toBe(false);
    }
    expect(hostRefusal('rebound.example:4566', { port: 4566 })).toEqual({
      statusCode: 421,
      error: 'HostNotAllowed',
      message: 'Host "rebound.example:4566" is not served here: this local server answers only 127.0.0.1:4566, localhost:4566, [::1]:4566 (DNS rebinding protection)',
    });
  });
});

describe('Local cloud: safe on a shared network', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  let before: ListeningSocket[];

  beforeAll(async () => {
    before = listeningSockets();
    dataDir = await mkdtemp(join(tmpdir(), 'local-safety-'));
    cloud = await startFixtureCloud(dataDir, {
      log: () => undefined,
    });
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only: the edge, the HTTP API and every emulator (fauxqs, kinesalite, dynalite)', () => {
    // Act: every TCP socket this process listens on, from /proc (whoever opened it).
    const opened = listeningSockets().filter((socket) => !before.some((known) => known.port === socket.port && known.address === socket.address));

    // Assess: the edge and the API among them, four or more servers (edge, API, fauxqs, kinesalite, dynalite), all on loopback.
    const ports = opened.map((socket) => socket.port);
    expect(ports).toEqual(expect.arrayContaining([Number(new URL(cloud.edgeUrl).port), Number(new URL(cloud.apiUrl).port)]));
    expect(opened.length).toBeGreaterThanOrEqual(5);
    expect(opened.filter((socket) => socket.address !== '127.0.0.1')).toEqual([]);
  });

  it('answers 421 to a Host that is not a loopback name on every port it listens on (DNS rebinding)', async () => {
    // Prepare
    const opened = listeningSockets().filter((socket) => !before.some((known) => known.port === socket.port));

    // Act
    const answers = await Promise.all(opened.map((socket) => rawRequest(`http://127.0.0.1:${socket.port}/`, { headers: { host: `rebound.example:${socket.port}` } })));

    // Assess
    expect(answers.map((answer) => [answer.status, (answer.json as { error?: string } | undefined)?.error])).toEqual(opened.map(() => [421, 'HostNotAllowed']));
  });

  it('serves the edge as 127.0.0.1, localhost, [::1] and virtual-hosted S3 names on its port', async () => {
    // Prepare
    const port = new URL(cloud.edgeUrl).port;

    // Act
    const statuses = await Promise.all(
      [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].map(async (host) => (await rawRequest(`${cloud.edgeUrl}/health`, { headers: { host } })).status),
    );
    const bucket = await rawRequest(`${cloud.edgeUrl}/`, { headers: { host: `no-such-bucket.s3.localhost:${port}` } });

    // Assess: a virtual-hosted bucket request reaches S3 (NoSuchBucket), not the guard.
    expect(statuses).toEqual([200, 200, 200]);
    expect([bucket.status, bucket.text]).toEqual([404, expect.stringContaining('NoSuchBucket')]);
  });

  it('refuses a request that carries an Origin on the edge (a web page), whatever its content type', async () => {
    // Prepare: what a cross-site form could send to SNS, and a same-looking request from a rebound page.
    const form = 'Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Ax&Message=hi';

    // Act
    const answers = await Promise.all([
      rawRequest(`${cloud.edgeUrl}/`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: form }),
      rawRequest(`${cloud.edgeUrl}/health`, { headers: { origin: cloud.edgeUrl } }),
    ]);

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({ error: 'OriginNotAllowed', message: expect.stringContaining('send no Origin') });
    }
  });

  it('writes this run\'s token to <dataDir>/edge/token, readable by its owner only, and the banner shows how to send it', async () => {
    // Act
    const text = await readFile(cloud.tokenFile, 'utf8');
    const mode = (await stat(cloud.tokenFile)).mode & 0o777;

    // Assess: 256 random bits, base64url.
    expect(cloud.tokenFile).toBe(join(dataDir, 'edge', 'token'));
    expect(text.trim()).toBe(cloud.token);
    expect(cloud.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mode).toBe(0o600);
    expect(banner(cloud, 'local')).toContain(`curl -s -H "x-local-token: $(cat '${cloud.tokenFile}')" ${cloud.edgeUrl}/_local/stats`);
  });

  it('the banner gives each AWS CLI version what it needs: --endpoint-url (every one), AWS_ENDPOINT_URL and a profile (v2 >= 2.13, v1 >= 1.29 but not sqs)', () => {
    // Act
    const text = banner(cloud, 'local');

    // Assess: what tests/integration/aws-cli.test.ts runs with the CLIs installed
    expect(text).toContain(`aws --endpoint-url ${cloud.edgeUrl} sqs list-queues     # every AWS CLI version, every service`);
    expect(text).toContain(`export AWS_ENDPOINT_URL=${cloud.edgeUrl}                # SDKs; AWS CLI v2 >= 2.13; v1 >= 1.29 but not sqs`);
    expect(text).toContain(`[profile local]  endpoint_url = ${cloud.edgeUrl}, region = ${cloud.region}, aws_access_key_id = test, aws_secret_access_key = test`);
  });

  it('refuses /_local/* without this run\'s token (403), a POST without a JSON content type (415), and serves them with both', async () => {
    // Act
    const noToken = await rawRequest(`${cloud.edgeUrl}/_local/stats`);
    const wrongToken = await rawRequest(`${cloud.edgeUrl}/_local/faults`, { headers: { 'x-local-token': 'x'.repeat(43) } });
    const textPlain = await rawRequest(`${cloud.edgeUrl}/_local/faults`, {
      method: 'POST',
      headers: { 'x-local-token': cloud.token, 'content-type': 'text/plain' },
      body: '{"duplicateDelivery":true}',
    });
    const invokeNoToken = await rawRequest(`${cloud.edgeUrl}/_local/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"functionName":"fixture-local-http"}' });
    const stats = await fetch(`${cloud.edgeUrl}/_local/stats`, { headers: controlHeaders(cloud.token) });
    const faults = await fetch(`${cloud.edgeUrl}/_local/faults`, { method: 'POST', headers: controlHeaders(cloud.token), body: '{}' });

    // Assess
    for (const refused of [noToken, wrongToken, invokeNoToken]) {
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual({ error: 'LocalTokenRequired', message: expect.stringContaining(`it is in ${cloud.tokenFile}`) });
    }
    expect([textPlain.status, textPlain.json]).toEqual([415, { error: 'UnsupportedMediaType', message: expect.stringContaining('content-type: application/json') }]);
    expect(cloud.stats().functions['fixture-local-http']?.invocations ?? 0).toBe(0);
    expect([stats.status, faults.status]).toEqual([200, 200]);
    expect(await faults.json()).toEqual({ faults: '', duplicateDelivery: false });
  });
});

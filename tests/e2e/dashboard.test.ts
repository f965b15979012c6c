/**
 * The live dashboard in a real browser (playwright-core driving Debian's Chromium, no download): the page draws the
 * topology from the compiled template, an order placed through its form reaches COMPLETED in the recent orders, a
 * poison order (FAULTS poison on chargeOrder, switched on at runtime with `POST /_local/faults`) shows up in the DLQ
 * panel with its reason, and the panel's Redrive button (the DLQ tool's own code) completes it once the fault is off.
 * Screenshot: reports/dashboard-e2e.png.
 *
 * The local cloud runs the compiled template as it is. The poison order needs the billing queue to give up quickly:
 * once the first order has completed, the test sets the queue's attributes as an operator could with the AWS CLI
 * (SetQueueAttributes: visibility timeout 3 s, maxReceiveCount 1), so the poison order is in billing-dlq after one
 * failed delivery and 3 s, not after 5 deliveries 61 s apart. chargeOrder keeps its 10 s timeout, so a slow machine
 * does not send a healthy order to the DLQ.
 *
 * Chromium: /usr/bin/chromium (`apt-get install chromium`) or CHROMIUM_PATH. Without it the suite is skipped with
 * that message, except in CI (CI set), where it runs and fails.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, PurgeQueueCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlHeaders, functionCredentials, type LocalCloud } from 'local-cloud';
import { localClients } from '../../scripts/local/clients.ts';
import { startOrderflowCloud } from '../../scripts/local/cloud.ts';
import { startDashboard, type Dashboard } from '../../scripts/dashboard/server.ts';
import { httpClient } from '../integration/helpers/api.ts';

const PROJECT = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SKIP = !existsSync(CHROMIUM) && !process.env.CI;
const SKIP_REASON = `no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`;
const SCREENSHOT = join(PROJECT, 'reports', 'dashboard-e2e.png');

if (SKIP) console.warn(`tests/e2e/dashboard.test.ts skipped: ${SKIP_REASON}`);

describe.skipIf(SKIP)(SKIP ? `Dashboard (skipped: ${SKIP_REASON})` : 'Dashboard: the live page in Chromium', () => {
  let dir: string;
  let cloud: LocalCloud;
  let dashboard: Dashboard;
  let browser: BrowserContext;
  let page: Page;
  const logs: string[] = [];
  const pageProblems: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orderflow-dashboard-'));
    await mkdir(join(dir, 'reports'));
    await writeFile(join(dir, 'reports', 'spike-e2e.html'), '<!doctype html><title>spike</title><h1>a load report</h1>');
    cloud = await startOrderflowCloud({ edgePort: 0, apiPort: 0, dataDir: join(dir, 'state'), projectDir: PROJECT, log: (line) => logs.push(line) });
    dashboard = await startDashboard({ cloud, port: 0, projectDir: PROJECT, reportsDir: join(dir, 'reports'), log: (line) => logs.push(line) });
    browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console error: ${message.text()}`);
    });
    page.on('request', (request) => requests.push(request.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`page problems: ${pageProblems.join('\n') || 'none'}\nlast local cloud log lines:\n${logs.slice(-40).join('\n')}`);
  });

  /** The billing queue gives up after one delivery, 3 s after it failed (RedrivePolicy and visibility timeout). */
  const billingGivesUpFast = async (): Promise<void> => {
    const { sqs } = localClients({ endpoint: cloud.edgeUrl, region: cloud.region });
    try {
      const QueueUrl = cloud.resources.BillingQueue?.url;
      const current = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['RedrivePolicy'] }))).Attributes?.RedrivePolicy;
      const redrive: Record<string, unknown> = { ...(JSON.parse(current ?? '{}') as Record<string, unknown>), maxReceiveCount: 1 };
      expect(redrive.deadLetterTargetArn).toMatch(/billing-dlq$/);
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '3', RedrivePolicy: JSON.stringify(redrive) } }));
    } finally {
      sqs.destroy();
    }
  };

  const setFaults = async (faults: unknown): Promise<void> => {
    const response = await fetch(`${cloud.edgeUrl}/_local/faults`, { method: 'POST', headers: controlHeaders(cloud.token), body: JSON.stringify(faults) });
    expect(response.status).toBe(200);
  };

  /** Fills the page's order form and submits it; answers the order id the API gave. */
  const placeThroughForm = async (customerId: string, fulfillment: 'physical' | 'digital'): Promise<string> => {
    await page.fill('input[name="customerId"]', customerId);
    await page.selectOption('select[name="fulfillment"]', fulfillment);
    await page.click('#place-order');
    await page.locator(`#order-result[data-customer="${customerId}"][data-order-id]`).waitFor();
    const orderId = await page.getAttribute('#order-result', 'data-order-id');
    expect(orderId).toMatch(/^[A-Za-z0-9-]+$/);
    return orderId as string;
  };

  it('shows the topology live, completes an order placed in its form, catches a poison order in the DLQ panel and redrives it', { timeout: 90_000 }, async () => {
    const started = Date.now();
    // Act: open the page
    await page.goto(dashboard.url);

    // Assess: the topology of the compiled template, with live counters, over one SSE stream
    await page.waitForSelector('#live.on');
    await page.waitForSelector('[data-node="BillingQueue"]');
    const labels = await page.locator('g.node text.title').allTextContents();
    const expected = [
      'HTTP API',
      'placeOrder',
      'order-events.fifo',
      'billing',
      'chargeOrder',
      'order-store.fifo',
      'orders',
      'order-stream', // slice-line:analytics
      'lake', // slice-line:analytics
    ];
    expect(labels).toEqual(expect.arrayContaining(expected));
    expect(await page.locator('g.node').count()).toBe(dashboard.topology.nodes.length);
    expect(await page.locator('[data-dlq="BillingDLQ"]').count()).toBe(1);
    await expect.poll(() => page.locator('#chart-orders canvas, #chart-queues canvas').count()).toBeGreaterThanOrEqual(2);
    await expect.poll(() => page.locator('#reports a').allTextContents()).toContain('spike-e2e.html');

    // Act: an order through the form
    const orderId = await placeThroughForm(`c-e2e-${Date.now().toString(36)}`, 'physical');
    // Assess: it reaches COMPLETED in the recent orders, with its timeline
    await page.waitForSelector(`tr[data-order-id="${orderId}"] [data-status="COMPLETED"]`, { timeout: 30_000 });
    expect(await page.locator(`tr[data-order-id="${orderId}"] .step.done`).count()).toBe(4);
    await expect.poll(() => page.textContent('#k-completed')).not.toBe('0');

    // Act: poison on for chargeOrder, the billing queue quick to give up, then a poison order through the form
    await setFaults({ chargeOrder: { poison: true } });
    await billingGivesUpFast();
    const poisonId = await placeThroughForm(`poison-e2e-${Date.now().toString(36)}`, 'digital');
    // Assess: it lands in billing-dlq, and the panel shows it with the reason the consumer logged
    const message = page.locator(`#dlq .dlq-msg[data-order-id="${poisonId}"]`);
    await message.waitFor({ timeout: 30_000 });
    expect(await message.locator('.reason').textContent()).toContain('PoisonOrderError');
    await page.waitForSelector('[data-dlq="BillingDLQ"].full');
    expect(await page.textContent('#k-dlq')).toBe('1');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Act: poison off, Redrive in the panel
    await setFaults({});
    await page.click('button[data-action="redrive"][data-queue="BillingDLQ"]');
    // Assess: moved back, charged, COMPLETED; the DLQs are empty again
    await page.locator('#dlq-result', { hasText: 'moved 1' }).waitFor();
    await page.waitForSelector(`tr[data-order-id="${poisonId}"] [data-status="COMPLETED"]`, { timeout: 30_000 });
    await page.waitForSelector('#dlq .empty-ok');

    // Assess: nothing came from the network but the dashboard itself, over one event stream, and no page error
    const origin = new URL(dashboard.url).origin;
    expect(requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'))).toEqual([]);
    expect(requests.filter((url) => url.endsWith('/api/events'))).toHaveLength(1);
    expect(pageProblems).toEqual([]);
    const report = await fetch(`${origin}/reports/spike-e2e.html`);
    expect([report.status, await report.text()]).toEqual([200, expect.stringContaining('a load report')]);
    expect((await fetch(`${origin}/reports/..%2Fstate`)).status).toBe(404);
    // Another site's page: by a rebound name (Host) it gets nothing, by its own origin it cannot place an order.
    const raw = httpClient(origin);
    const rebound = await raw.send({ path: '/', headers: { host: `rebound.example:${dashboard.port}` }, fresh: true });
    expect([rebound.status, rebound.json]).toEqual([421, { error: 'HostNotAllowed', message: expect.stringContaining('DNS rebinding') }]);
    const crossSite = await raw.send({ method: 'POST', path: '/api/orders', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}', fresh: true });
    expect(crossSite.status).toBe(403);
    raw.close();
    console.log(`dashboard e2e: ${Date.now() - started} ms in the browser; screenshot ${SCREENSHOT}`);
  });

  it("lists a request a function's role refuses under --iam enforce in the IAM panel, as GET /_local/iam reports it", { timeout: 30_000 }, async () => {
    // Prepare: the page open, and placeOrder's own credentials (those the local cloud hands the function)
    if (page.url() !== dashboard.url) await page.goto(dashboard.url);
    await page.waitForSelector('#live.on');
    const placeOrder = cloud.functions.find((name) => name.endsWith('-placeOrder')) ?? 'placeOrder';
    const sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: cloud.region, credentials: functionCredentials(placeOrder) });
    const billing = cloud.resources.BillingQueue;
    // Act: placeOrder purges the billing queue, which its role does not allow
    const denied = await sqs.send(new PurgeQueueCommand({ QueueUrl: billing?.url })).then(
      () => undefined,
      (error: Error) => error,
    );
    sqs.destroy();
    // Assess: AWS's AccessDenied, the same denial in GET /_local/iam and in the panel (function, role, action, resource, mode)
    expect(denied?.name).toBe('AccessDenied');
    const report = (await (await fetch(`${cloud.edgeUrl}/_local/iam`, { headers: controlHeaders(cloud.token) })).json()) as { mode: string; denials: { functionName: string; roleName: string; action: string }[] };
    const denial = report.denials.find((entry) => entry.functionName === placeOrder && entry.action === 'sqs:PurgeQueue');
    expect([report.mode, denial?.roleName]).toEqual(['enforce', expect.any(String)]);
    const row = page.locator(`#iam tr.iam-denial[data-function="${placeOrder}"][data-action="sqs:PurgeQueue"]`);
    await row.waitFor({ timeout: 10_000 });
    const text = await row.textContent();
    expect(text).toContain(billing?.arn ?? '?');
    expect(text).toContain(`role ${denial?.roleName ?? '?'}`);
    expect(text).toContain('refused');
    expect(await page.textContent('#iam-mode')).toContain('--iam enforce');
    expect(pageProblems).toEqual([]);
  });
});

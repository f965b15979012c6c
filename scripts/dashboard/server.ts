/**
 * The live dashboard of the local cloud: http://127.0.0.1:4567/ (DASHBOARD_PORT; 0 picks a free port), its own
 * small HTTP server beside the edge, on 127.0.0.1 only.
 *
 * - `GET /` the page (static files in ./public, uPlot from node_modules: nothing is fetched from the network);
 * - `GET /api/events` one Server-Sent Events stream per page: first `hello` (topology, chart history, latest
 *   snapshot), then one `snapshot` a second. One sampler serves every page: the snapshot is serialised once and
 *   written to each stream; a page that cannot keep up skips snapshots instead of queueing them;
 * - `POST /api/orders` places an order through the HTTP API (the API sets no CORS headers, so the page posts here);
 * - `POST /api/dlq/{redrive|purge}` `{"queue": "<DLQ logical id or name>"}`: the same code as `npm run dlq`;
 * - `GET /api/reports`, `GET /reports/<file>`: the load reports in `reports/`, read-only.
 *
 * Only `127.0.0.1:<port>`, `localhost:<port>` and `[::1]:<port>` are served as Host (421 otherwise: DNS rebinding);
 * POST endpoints take JSON only and refuse other origins, so no other web page can drive them.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostRefusal, sendRefusal, type LocalCloud } from 'local-cloud';
import { InvocationObserver } from './observer.ts';
import { Sampler, type DlqSource } from './sampler.ts';
import { buildTopology, type Topology } from './topology.ts';

/** The DLQ tool's actions the panel offers (scripts/dlq, the same code as `npm run dlq`). */
interface DlqActions extends DlqSource {
  redrive(queue: { logicalId: string; name: string; url: string; source: string }): Promise<Record<string, unknown>>;
  purge(queue: { logicalId: string; name: string; url: string; source: string }): Promise<Record<string, unknown>>;
  close?(): void;
}

interface DashboardOptions {
  cloud: LocalCloud;
  /** Default 4567; 0 picks a free port. */
  port?: number;
  /** Default the current directory: `reports/` and the compiled template are found from here. */
  projectDir?: string;
  /** Default `<projectDir>/reports`. */
  reportsDir?: string;
  /** The compiled template (default `<projectDir>/.serverless/cloudformation-template-update-stack.json`). */
  templatePath?: string;
  /** Default: the DLQ tool of scripts/dlq bound to this cloud. */
  dlq?: DlqActions;
  intervalMs?: number;
  log?: (line: string) => void;
}

interface Dashboard {
  url: string;
  port: number;
  topology: Topology;
  sampler: Sampler;
  stop(): Promise<void>;
}

class DashboardError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DashboardError';
  }
}

const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');
const DEFAULT_PORT = 4567;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.csv': 'text/csv; charset=utf-8',
  '.ico': 'image/x-icon',
};
/** A report's file name: one path segment, no dot first. */
const REPORT_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.(html|json|png|svg|csv)$/;
const MAX_BODY_BYTES = 262_144;

function vendorFiles(projectDir: string): Record<string, string> {
  const uplot = join(projectDir, 'node_modules', 'uplot', 'dist');
  return { '/vendor/uPlot.iife.min.js': join(uplot, 'uPlot.iife.min.js'), '/vendor/uPlot.min.css': join(uplot, 'uPlot.min.css') };
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  const buffer = Buffer.from(JSON.stringify(body));
  res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': String(buffer.length), 'cache-control': 'no-store' });
  res.end(buffer);
}

function sendFile(res: ServerResponse, file: string, cache = 'no-cache'): void {
  const stream = createReadStream(file);
  stream.once('open', () => {
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': cache, 'x-content-type-options': 'nosniff' });
    stream.pipe(res);
  });
  stream.once('error', () => {
    if (!res.headersSent) sendJson(res, 404, { error: 'not found' });
    else res.destroy();
  });
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new DashboardError(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const value = JSON.parse(text === '' ? '{}' : text) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DashboardError('the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** JSON content type (a cross-site form cannot send it without a preflight we never answer) and our own origin. */
function sameOriginJson(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  const json = (req.headers['content-type'] ?? '').startsWith('application/json');
  return json && (origin === undefined || origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`);
}

async function loadTemplate(path: string): Promise<{ Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }> {
  // Another process may be rewriting it this instant (osls package): one more try after a moment.
  for (let attempt = 0; ; attempt += 1) {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
    } catch (error) {
      if (attempt >= 2) throw new DashboardError(`cannot read the compiled template ${path}: ${(error as Error).message}`, { cause: error });
      await sleep(300);
    }
  }
}

async function listReports(dir: string): Promise<{ name: string; url: string; bytes: number; modifiedAt: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const reports = await Promise.all(
    names
      .filter((name) => name.endsWith('.html') && REPORT_FILE.test(name))
      .map(async (name) => {
        const info = await stat(join(dir, name)).catch(() => undefined);
        return info?.isFile() ? { name, url: `/reports/${encodeURIComponent(name)}`, bytes: info.size, modifiedAt: info.mtime.toISOString() } : undefined;
      }),
  );
  return reports.filter((report) => report !== undefined).sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
}

/** Default DLQ actions: the DLQ tool's functions (scripts/dlq), loaded on first use. */
async function defaultDlqActions(cloud: LocalCloud, projectDir: string, templatePath: string): Promise<DlqActions> {
  const { dlqActionsFor } = await import('./dlq.ts');
  return dlqActionsFor(cloud, { projectDir, templatePath });
}

/**
 * Starts the dashboard for a running local cloud.
 *
 * @example
 * const cloud = await startLocalCloud();
 * const dashboard = await startDashboard({ cloud });
 * console.log(dashboard.url); // http://127.0.0.1:4567/
 */
async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { cloud } = options;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const projectDir = resolvePath(options.projectDir ?? process.cwd());
  const reportsDir = resolvePath(options.reportsDir ?? join(projectDir, 'reports'));
  const templatePath = options.templatePath ?? join(projectDir, '.serverless', 'cloudformation-template-update-stack.json');
  const template = await loadTemplate(templatePath);
  const functionNames = Object.fromEntries(cloud.runtime.list().map((fn) => [fn.config.logicalId, fn.config.name]));
  const topology = buildTopology({ template, stackName: cloud.stackName, resources: cloud.resources, functionNames });
  const dlq = options.dlq ?? (await defaultDlqActions(cloud, projectDir, templatePath));
  const observer = new InvocationObserver();
  observer.attach(cloud.runtime);
  const sampler = new Sampler({ cloud, topology, observer, dlq, ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}), log });
  const vendor = vendorFiles(projectDir);
  for (const file of Object.values(vendor)) if (!existsSync(file)) throw new DashboardError(`${file} is missing: run npm install`);

  const clients = new Set<ServerResponse>();
  const stalled = new WeakSet<ServerResponse>();
  const dlqQueues = topology.nodes.flatMap((node) => [
    ...node.dlqs.filter((d) => d.url).map((d) => ({ logicalId: d.logicalId, name: d.name, url: d.url as string, source: node.id })),
    ...(node.failureDestination && node.url ? [{ logicalId: node.id, name: node.name, url: node.url, source: node.id }] : []),
  ]);
  let port = 0;

  const broadcast = (event: string, data: unknown): void => {
    if (clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) {
      if (stalled.has(res)) continue;
      // A page that does not read fast enough skips snapshots until its socket drains.
      if (!res.write(frame)) {
        stalled.add(res);
        res.once('drain', () => stalled.delete(res));
      }
    }
  };
  sampler.onSnapshot((snapshot) => broadcast('snapshot', snapshot));

  const hello = (): string =>
    `event: hello\ndata: ${JSON.stringify({ topology, queueIds: sampler.queueIds, history: sampler.history, snapshot: sampler.latest, api: cloud.apiUrl, edge: cloud.edgeUrl })}\n\n`;

  async function placeOrder(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req);
    const key = req.headers['idempotency-key'];
    // The API wants a customer's token (its JWT authorizer): the dashboard, an operator's tool on loopback, places
    // the order as the customer it names, with a token of the local issuer.
    const token = await cloud.mintToken({ customer: typeof body.customerId === 'string' && body.customerId !== '' ? body.customerId : 'dashboard' });
    const response = await fetch(`${cloud.apiUrl}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(typeof key === 'string' ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = { raw: text };
    }
    const orderId = (answer as { orderId?: unknown }).orderId;
    if (response.status === 202 && typeof orderId === 'string') {
      sampler.pin(orderId);
      observer.notePlaced({
        orderId,
        ...(typeof body.customerId === 'string' ? { customerId: body.customerId } : {}),
        ...(typeof body.fulfillment === 'string' ? { fulfillment: body.fulfillment } : {}),
        at: Date.now(),
      });
    }
    sendJson(res, response.status, answer);
  }

  async function dlqAction(action: 'redrive' | 'purge', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req);
    const queue = dlqQueues.find((q) => q.logicalId === body.queue || q.name === body.queue);
    if (!queue) return sendJson(res, 404, { error: `no DLQ ${JSON.stringify(body.queue)} (DLQs: ${dlqQueues.map((q) => q.logicalId).join(', ')})` });
    try {
      const result = await dlq[action](queue);
      sampler.refreshDlq();
      log(`[dashboard] ${action} ${queue.name}: ${JSON.stringify(result)}`);
      sendJson(res, 200, { queue: queue.name, ...result });
    } catch (error) {
      sendJson(res, 500, { queue: queue.name, error: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (method === 'GET' && (path === '/' || path === '/index.html')) return sendFile(res, join(PUBLIC_DIR, 'index.html'));
    if (method === 'GET' && (path === '/app.js' || path === '/app.css')) return sendFile(res, join(PUBLIC_DIR, path.slice(1)));
    if (method === 'GET' && vendor[path]) return sendFile(res, vendor[path] as string, 'max-age=3600');
    if (method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: 2000\n\n${hello()}`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (method === 'GET' && path === '/api/topology') return sendJson(res, 200, topology);
    if (method === 'GET' && path === '/api/snapshot') return sendJson(res, 200, sampler.latest ?? {});
    if (method === 'GET' && path === '/api/reports') return sendJson(res, 200, await listReports(reportsDir));
    if (method === 'GET' && path.startsWith('/reports/')) {
      let name = '';
      try {
        name = decodeURIComponent(path.slice('/reports/'.length));
      } catch {
        // A malformed escape is no report either.
      }
      if (!REPORT_FILE.test(name)) return sendJson(res, 404, { error: 'not a report' });
      return sendFile(res, join(reportsDir, name));
    }
    if (method === 'POST' && (path === '/api/orders' || path === '/api/dlq/redrive' || path === '/api/dlq/purge')) {
      if (!sameOriginJson(req, port)) return sendJson(res, 403, { error: 'JSON from this dashboard only' });
      if (path === '/api/orders') return placeOrder(req, res);
      return dlqAction(path === '/api/dlq/redrive' ? 'redrive' : 'purge', req, res);
    }
    return sendJson(res, method === 'GET' ? 404 : 405, { error: `${method} ${path} is not served here` });
  }

  const server: Server = createServer((req, res) => {
    // Host allow-list (local-cloud's guard): a rebound web page's name is not served, not even the page.
    const refusal = hostRefusal(req.headers.host, { port });
    if (refusal !== undefined) return sendRefusal(res, refusal);
    route(req, res).catch((error: unknown) => {
      const status = error instanceof DashboardError || error instanceof SyntaxError ? 400 : 500;
      if (!res.headersSent) sendJson(res, status, { error: (error as Error).message });
      else res.destroy();
    });
  });
  port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new DashboardError(`dashboard port ${options.port ?? DEFAULT_PORT} on 127.0.0.1 is in use (set DASHBOARD_PORT)`, { cause: error }) : error),
    );
    server.listen(options.port ?? DEFAULT_PORT, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  sampler.start();

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    topology,
    sampler,
    stop: () => {
      stopping ??= (async () => {
        for (const res of clients) res.end();
        clients.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await sampler.stop();
        observer.detach();
        dlq.close?.();
      })();
      return stopping;
    },
  };
}

export { startDashboard };
export type { Dashboard, DlqActions };

/**
 * The chaos scenario's extra steps (scenarios/chaos.yml): faults on for the run (`POST {edge}/_local/faults`), local-only
 * queue settings, then after the drain the DLQ phase: every poison order in its DLQ and nowhere else, every other order
 * completed exactly once; faults off (`{}`), `dlq redrive` of every non-empty DLQ, and every order completed, still
 * exactly once. `checkChaos` is the pure accounting (tests/load/chaos.test.ts); the rest is I/O on the local cloud.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { controlHeaders } from 'local-cloud';
import { runDlq } from '../dlq/cli.ts';
import { listDlqs, peekQueue } from '../dlq/commands.ts';
import { TEMPLATE_FILE, localStack } from '../dlq/stack.ts';
import { writes, type TableItem } from './accounting.ts';
import type { ChaosSettings } from './scenario.ts';
import type { LoadTarget, LocalEdge } from './target.ts';

const PROJECT_DIR = join(import.meta.dirname, '..', '..');
/** Where a poison order must end: chargeOrder's queue's DLQ (chargeOrder is the consumer the scenario poisons). */
const POISON_DLQ = 'billing-dlq';

interface ChaosOrder {
  orderId: string;
  poison: boolean;
}

interface ChaosCheck {
  stage: 'before-redrive' | 'after-redrive';
  orders: number;
  poison: number;
  /** Orders (non-poison before the redrive, all after) COMPLETED with invoiceWrites = 1 and labelWrites <= 1. */
  completedOnce: number;
  /** Orders that should be COMPLETED and are not (ids, at most 20). */
  notCompleted: string[];
  notCompletedCount: number;
  /** invoiceWrites > 1 or labelWrites > 1. */
  duplicated: { orderId: string; invoiceWrites: number; labelWrites: number }[];
  /** COMPLETED without exactly one invoice write (0: the invoice was never recorded). */
  invoiceNotOnce: string[];
  /** Poison orders found in the poison DLQ (before the redrive). */
  poisonInDlq: number;
  /** Poison orders not in the poison DLQ, in another DLQ, COMPLETED or charged; non-poison orders in a DLQ. */
  misplaced: string[];
  failures: string[];
}

/**
 * Checks the run's orders against the table and the DLQs' contents (pure).
 *
 * @example
 * const check = checkChaos('before-redrive', orders, items, new Map([['orderflow-local-billing-dlq', new Set(['o-1'])]]));
 * if (check.failures.length > 0) process.exitCode = 1;
 */
function checkChaos(stage: ChaosCheck['stage'], orders: readonly ChaosOrder[], tableItems: Iterable<TableItem>, dlqOrders: ReadonlyMap<string, ReadonlySet<string>>, poisonDlq = POISON_DLQ): ChaosCheck {
  const items = new Map<string, TableItem>();
  for (const item of tableItems) items.set(item.orderId, item);
  const before = stage === 'before-redrive';
  const inDlqs = (orderId: string): string[] => [...dlqOrders].filter(([, ids]) => ids.has(orderId)).map(([name]) => name);
  const check: ChaosCheck = { stage, orders: orders.length, poison: 0, completedOnce: 0, notCompleted: [], notCompletedCount: 0, duplicated: [], invoiceNotOnce: [], poisonInDlq: 0, misplaced: [], failures: [] };
  for (const order of orders) {
    const item = items.get(order.orderId);
    const invoiceWrites = writes(item?.invoiceWrites) ?? 0;
    const labelWrites = writes(item?.labelWrites) ?? 0;
    if (invoiceWrites > 1 || labelWrites > 1) check.duplicated.push({ orderId: order.orderId, invoiceWrites, labelWrites });
    const dlqs = inDlqs(order.orderId);
    if (order.poison) check.poison += 1;
    if (order.poison && before) {
      const inPoisonDlq = dlqs.some((name) => name.endsWith(poisonDlq));
      if (inPoisonDlq) check.poisonInDlq += 1;
      const elsewhere = dlqs.filter((name) => !name.endsWith(poisonDlq));
      const charged = item?.chargedAt !== undefined || item?.status === 'COMPLETED' || invoiceWrites > 0;
      if (!inPoisonDlq || elsewhere.length > 0 || charged) {
        check.misplaced.push(`${order.orderId} (poison: ${inPoisonDlq ? `in ${poisonDlq}` : `not in ${poisonDlq}`}${elsewhere.length > 0 ? `, also in ${elsewhere.join(', ')}` : ''}${charged ? `, ${item?.status === 'COMPLETED' ? 'COMPLETED' : 'charged'}` : ''})`);
      }
      continue;
    }
    if (dlqs.length > 0) check.misplaced.push(`${order.orderId} (${order.poison ? 'poison, redriven, ' : ''}still in ${dlqs.join(', ')})`);
    if (item?.status !== 'COMPLETED') {
      check.notCompletedCount += 1;
      if (check.notCompleted.length < 20) check.notCompleted.push(`${order.orderId} (${item?.status ?? 'not in the table'})`);
      continue;
    }
    if (invoiceWrites !== 1) check.invoiceNotOnce.push(`${order.orderId} (invoiceWrites ${invoiceWrites})`);
    else if (labelWrites <= 1) check.completedOnce += 1;
  }
  const what = before ? 'non-poison order(s)' : 'order(s)';
  if (check.notCompletedCount > 0) check.failures.push(`${stage}: ${check.notCompletedCount} ${what} not COMPLETED (${check.notCompleted.slice(0, 5).join(', ')})`);
  if (check.duplicated.length > 0) check.failures.push(`${stage}: ${check.duplicated.length} order(s) with an invoice or label written more than once`);
  if (check.invoiceNotOnce.length > 0) check.failures.push(`${stage}: ${check.invoiceNotOnce.length} COMPLETED order(s) without exactly one invoice write (${check.invoiceNotOnce.slice(0, 5).join(', ')})`);
  if (check.misplaced.length > 0) check.failures.push(`${stage}: ${check.misplaced.length} order(s) in the wrong place (${check.misplaced.slice(0, 5).join('; ')})`);
  if (before && check.poison === 0) check.failures.push('before-redrive: no poison order was accepted (orders.poisonShare too small for the run?)');
  return check;
}

interface ChaosReport {
  faults: Record<string, unknown>;
  /** Local-only queue settings the run used (and put back after). */
  localQueues?: { visibilityTimeoutSeconds: number; maxReceiveCount: number; queues: string[] };
  beforeRedrive?: ChaosCheck;
  /** DLQ depths (visible + in flight) before the redrive, by DLQ name (non-empty only). */
  dlqDepths: Record<string, number>;
  redriven: Record<string, number>;
  redriveCommands: string[];
  afterRedrive?: ChaosCheck;
  /** ms from the end of the redrive to every order COMPLETED (null: not before the deadline). */
  completedAfterRedriveMs: number | null;
  lost: number;
  duplicated: number;
  failures: string[];
}

/** `POST {edge}/_local/faults` with the edge's token; `{}` switches everything off. */
async function setFaults(edge: LocalEdge, faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${edge.url}/_local/faults`, { method: 'POST', headers: controlHeaders(edge.token), body: JSON.stringify(faults) });
  if (response.status !== 200) throw new Error(`POST /_local/faults answered ${response.status}: ${await response.text()}`);
}

/** Applies the local-only queue settings to every work queue; answers a function that puts the old ones back. */
async function applyLocalQueues(target: LoadTarget, settings: NonNullable<ChaosSettings['localQueues']>): Promise<{ restore: () => Promise<void>; queues: string[] }> {
  const saved: { url: string; attributes: Record<string, string> }[] = [];
  for (const queue of target.queues.filter((q) => q.role === 'work')) {
    const current = (await target.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }))).Attributes ?? {};
    const attributes: Record<string, string> = { VisibilityTimeout: String(settings.visibilityTimeoutSeconds) };
    if (current.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify({ ...(JSON.parse(current.RedrivePolicy) as Record<string, unknown>), maxReceiveCount: settings.maxReceiveCount });
    await target.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: attributes }));
    saved.push({ url: queue.url, attributes: { ...(current.VisibilityTimeout ? { VisibilityTimeout: current.VisibilityTimeout } : {}), ...(current.RedrivePolicy ? { RedrivePolicy: current.RedrivePolicy } : {}) } });
  }
  return {
    queues: target.queues.filter((q) => q.role === 'work').map((q) => q.name),
    restore: async () => {
      for (const { url, attributes } of saved) if (Object.keys(attributes).length > 0) await target.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
    },
  };
}

/** Messages waiting or in flight over the work queues. */
async function workBacklog(target: LoadTarget): Promise<number> {
  let total = 0;
  for (const queue of target.queues.filter((q) => q.role === 'work')) {
    const a = (await target.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }))).Attributes ?? {};
    total += Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  }
  return total;
}

/** Which of the run's orders each non-empty DLQ holds (bodies searched for the order ids), and the DLQ depths. */
async function dlqContents(edge: LocalEdge, region: string, orderIds: readonly string[]): Promise<{ byDlq: Map<string, Set<string>>; depths: Record<string, number> }> {
  const stack = await localStack({ endpoint: edge.url, region, templatePath: join(PROJECT_DIR, TEMPLATE_FILE), token: edge.token });
  try {
    const byDlq = new Map<string, Set<string>>();
    const depths: Record<string, number> = {};
    for (const dlq of await listDlqs(stack)) {
      const depth = dlq.visible + dlq.inFlight;
      if (depth === 0) continue;
      depths[dlq.name] = depth;
      const found = new Set<string>();
      const { messages } = await peekQueue(stack, dlq.name, depth + 10);
      for (const message of messages) {
        const text = JSON.stringify(message.body);
        for (const id of orderIds) if (text.includes(id)) found.add(id);
      }
      byDlq.set(dlq.name, found);
    }
    return { byDlq, depths };
  } finally {
    stack.destroy();
  }
}

/**
 * The post-run DLQ phase (faults still on when it starts): waits for the poison orders to reach the poison DLQ,
 * checks, switches the faults off, redrives every non-empty DLQ with `dlq redrive --yes`, waits, checks again.
 */
async function runChaosPhase(args: {
  target: LoadTarget;
  settings: ChaosSettings;
  orders: () => ChaosOrder[];
  scan: () => Promise<TableItem[]>;
  log: (line: string) => void;
  report: ChaosReport;
}): Promise<ChaosReport> {
  const { target, settings, log, report } = args;
  const edge = target.edge as LocalEdge;
  const deadlineMs = settings.redrive?.deadlineMs ?? 120_000;
  let orders = args.orders();
  const poisonIds = orders.filter((o) => o.poison).map((o) => o.orderId);
  // The drain waited for the work queues to empty, so the poison orders should be dead-lettered by now; wait a little if not.
  let contents = await dlqContents(edge, target.region, orders.map((o) => o.orderId));
  const waitUntil = Date.now() + Math.min(60_000, deadlineMs);
  while (Date.now() < waitUntil && !poisonIds.every((id) => [...contents.byDlq].some(([name, ids]) => name.endsWith(POISON_DLQ) && ids.has(id)))) {
    await sleep(2000);
    contents = await dlqContents(edge, target.region, orders.map((o) => o.orderId));
  }
  orders = args.orders();
  report.beforeRedrive = checkChaos('before-redrive', orders, await args.scan(), contents.byDlq);
  report.dlqDepths = contents.depths;
  log(`chaos: before the redrive: ${report.beforeRedrive.completedOnce}/${orders.length - report.beforeRedrive.poison} non-poison orders completed once; ${report.beforeRedrive.poisonInDlq}/${report.beforeRedrive.poison} poison orders in ${POISON_DLQ}; DLQs ${JSON.stringify(contents.depths)}`);

  await setFaults(edge, {});
  log('chaos: faults off (POST /_local/faults {})');
  if (!settings.redrive) return finish(report);
  const lines: string[] = [];
  const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line), isTTY: false, env: { LOCAL_CLOUD_TOKEN: edge.token }, cwd: PROJECT_DIR };
  for (const name of Object.keys(contents.depths)) {
    const argv = ['redrive', name, '--yes', '--endpoint', edge.url];
    report.redriveCommands.push(`npm run dlq -- ${argv.join(' ')}`);
    const before = lines.length;
    const code = await runDlq(argv, io);
    const output = lines.slice(before).join('\n');
    const moved = [...output.matchAll(/redrove (\d+) message/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    report.redriven[name] = moved;
    log(`chaos: dlq redrive ${name}: exit ${code}, ${moved} message(s) redriven`);
    if (code !== 0) report.failures.push(`dlq redrive ${name} exited ${code}: ${output.split('\n').at(-1) ?? ''}`);
  }
  const redriveEnd = Date.now();
  let items = await args.scan();
  const allDone = (): boolean => {
    const byId = new Map(items.map((item) => [item.orderId, item]));
    return orders.every((o) => byId.get(o.orderId)?.status === 'COMPLETED');
  };
  while (Date.now() - redriveEnd < deadlineMs && !(allDone() && (await workBacklog(target)) === 0)) {
    await sleep(2000);
    items = await args.scan();
  }
  report.completedAfterRedriveMs = allDone() ? Date.now() - redriveEnd : null;
  // A last look a moment later, so a late duplicate write would show.
  await sleep(2000);
  items = await args.scan();
  contents = await dlqContents(edge, target.region, orders.map((o) => o.orderId));
  report.afterRedrive = checkChaos('after-redrive', orders, items, contents.byDlq);
  log(`chaos: after the redrive: ${report.afterRedrive.completedOnce}/${orders.length} orders completed exactly once`);
  return finish(report);
}

function finish(report: ChaosReport): ChaosReport {
  const last = report.afterRedrive ?? report.beforeRedrive;
  report.lost = last?.notCompletedCount ?? 0;
  report.duplicated = new Set([...(report.beforeRedrive?.duplicated ?? []), ...(report.afterRedrive?.duplicated ?? [])].map((d) => d.orderId)).size;
  report.failures.push(...(report.beforeRedrive?.failures ?? []), ...(report.afterRedrive?.failures ?? []));
  if (report.beforeRedrive && Object.values(report.redriven).reduce((a, b) => a + b, 0) < report.beforeRedrive.poisonInDlq) report.failures.push('fewer messages redriven than poison orders in the DLQ');
  return report;
}

export { POISON_DLQ, applyLocalQueues, checkChaos, runChaosPhase, setFaults };
export type { ChaosOrder, ChaosReport };

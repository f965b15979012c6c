/**
 * The dashboard's DLQ panel runs the DLQ tool's own functions (scripts/dlq: `peekQueue`, `redrive`, `purge` on a
 * `localStack` view of this cloud), the same code as `npm run dlq -- peek|redrive|purge`: one implementation of
 * "peek without consuming", "move back, deleting only what was sent" and "purge a DLQ only".
 *
 * Peeks, redrives and purges of this dashboard run one at a time: a peek hides the messages it reads for a moment,
 * and a redrive that received during that moment would stop early, thinking the DLQ empty.
 */
import { join } from 'node:path';
import { peekQueue, purge, redrive } from '../dlq/commands.ts';
import { localStack, type StackView } from '../dlq/stack.ts';
import type { LocalCloud } from 'local-cloud';
import type { DlqMessageRow } from './sampler.ts';
import type { DlqActions } from './server.ts';

/** What an order event or review request in a DLQ says about its order. */
function describeBody(body: unknown, messageAttributes: Record<string, string>): Pick<DlqMessageRow, 'orderId' | 'customerId' | 'type'> {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const order = typeof value.order === 'object' && value.order !== null ? (value.order as Record<string, unknown>) : {};
  const orderId = typeof value.orderId === 'string' ? value.orderId : messageAttributes.orderId;
  const customerId = typeof value.customerId === 'string' ? value.customerId : typeof order.customerId === 'string' ? order.customerId : undefined;
  const type = typeof value.type === 'string' ? value.type : messageAttributes.type;
  return { ...(orderId ? { orderId } : {}), ...(customerId ? { customerId } : {}), ...(type ? { type } : {}) };
}

/**
 * DLQ actions bound to a running local cloud.
 *
 * @example
 * const dlq = dlqActionsFor(cloud, { projectDir });
 * await dlq.redrive({ logicalId: 'BillingDLQ', name: 'orderflow-local-billing-dlq', url, source: 'BillingQueue' });
 */
function dlqActionsFor(cloud: LocalCloud, options: { projectDir?: string; templatePath?: string } = {}): DlqActions & { close(): void } {
  const templatePath = options.templatePath ?? join(options.projectDir ?? process.cwd(), '.serverless', 'cloudformation-template-update-stack.json');
  let stack: Promise<StackView> | undefined;
  const open = (): Promise<StackView> => (stack ??= localStack({ endpoint: cloud.edgeUrl, region: cloud.region, templatePath, token: cloud.token }));
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };
  const lines = (): { out(line: string): void; text: string[] } => {
    const text: string[] = [];
    return { out: (line: string) => text.push(line), text };
  };
  return {
    peek: (queues, limit) =>
      serial(async () => {
        const view = await open();
        const rows: DlqMessageRow[] = [];
        for (const q of queues) {
          const peeked = await peekQueue(view, q.name, limit);
          for (const message of peeked.messages) {
            rows.push({
              queue: q.logicalId,
              queueName: q.name,
              source: q.source,
              messageId: message.messageId,
              receiveCount: message.receiveCount,
              ...(message.sentAt ? { sentAt: message.sentAt } : {}),
              ...describeBody(message.body, message.messageAttributes),
              ...(message.reason ? { reason: message.reason } : peeked.note ? { reason: peeked.note } : {}),
            });
          }
        }
        return rows;
      }),
    redrive: (q) =>
      serial(async () => {
        const output = lines();
        const moved = await redrive(await open(), q.name, { confirm: async () => true }, output);
        return { moved, log: output.text.join('\n') };
      }),
    purge: (q) =>
      serial(async () => {
        const output = lines();
        const purged = await purge(await open(), q.name, async () => true, output);
        return { purged, log: output.text.join('\n') };
      }),
    close: () => {
      void stack?.then((view) => view.destroy(), () => undefined);
    },
  };
}

export { dlqActionsFor };

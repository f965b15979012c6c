/**
 * `npm run warehouse:publish -- <dispatch|stock> ...`: the legacy warehouse's side, over AMQP 0-9-1 with amqplib:
 * publishes one dispatch or stock message to the `warehouse-dispatch` queue of the warehouse broker, persistent,
 * with publisher confirms (resolves once the broker has taken it).
 *
 *   dispatch --order <orderId> --tracking <number> [--carrier <name>] [--at <ISO time>]
 *   stock --sku <sku> --available <n>
 *
 * Options: --url amqp[s]://user:password@host:port (default: the local cloud's broker, from
 * `<LOCAL_DATA_DIR or .local>/amazonmq/WarehouseBroker/connection.json`, written by `npm start`), --queue NAME,
 * --correlation-id ID. For a deployed stage, the broker's amqps endpoint (`aws mq describe-broker`) and the user in
 * the `<service>-<stage>-warehouse-broker` secret.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import amqp from 'amqplib';

const USAGE = `usage: npm run warehouse:publish -- dispatch --order <orderId> --tracking <number> [--carrier <name>] [--at <ISO time>]
       npm run warehouse:publish -- stock --sku <sku> --available <n>
options: --url amqp[s]://user:password@host:port (default: the local cloud's broker) --queue NAME --correlation-id ID`;

const QUEUE = 'warehouse-dispatch';

class PublishUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishUsageError';
  }
}

interface WarehouseMessage {
  kind: 'dispatch' | 'stock';
  body: Record<string, unknown>;
  url?: string;
  queue: string;
  correlationId?: string;
}

function parseArguments(argv: string[], now: Date): WarehouseMessage {
  const [kind, ...rest] = argv;
  if (kind !== 'dispatch' && kind !== 'stock') throw new PublishUsageError(`the first argument must be dispatch or stock, got ${kind === undefined ? 'nothing' : `"${kind}"`}`);
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i] as string;
    const value = rest[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new PublishUsageError(`${flag} needs a value`);
    flags.set(flag.slice(2), value);
  }
  const need = (name: string): string => {
    const value = flags.get(name);
    if (value === undefined || value === '') throw new PublishUsageError(`${kind} needs --${name}`);
    return value;
  };
  const body: Record<string, unknown> =
    kind === 'dispatch'
      ? { orderId: need('order'), trackingNumber: need('tracking'), carrier: flags.get('carrier') ?? 'warehouse-post', dispatchedAt: flags.get('at') ?? now.toISOString() }
      : { sku: need('sku'), available: Number(need('available')) };
  return { kind, body, url: flags.get('url'), queue: flags.get('queue') ?? QUEUE, correlationId: flags.get('correlation-id') };
}

/** The local cloud's broker URL, from the connection file `npm start` writes beside the broker's data. */
async function localBrokerUrl(env: Record<string, string | undefined>, cwd: string): Promise<string> {
  const file = join(resolve(cwd, env.LOCAL_DATA_DIR ?? '.local'), 'amazonmq', 'WarehouseBroker', 'connection.json');
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { url: string }).url;
  } catch {
    throw new PublishUsageError(`no local broker at ${file}: start the local cloud (npm start) with rabbitmq-server installed, or pass --url`);
  }
}

/**
 * Publishes one warehouse message and waits for the broker's confirm; answers its message id.
 *
 * @example
 * const messageId = await publishWarehouseMessage({ kind: 'dispatch', body: { orderId, trackingNumber: 'T1', carrier: 'dpd', dispatchedAt }, queue: 'warehouse-dispatch' }, url);
 */
async function publishWarehouseMessage(message: WarehouseMessage, url: string): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    // Durable, as the consumer side declares it (the local poller; on Amazon MQ, whoever creates the queue first).
    await channel.assertQueue(message.queue, { durable: true });
    const messageId = randomUUID();
    channel.sendToQueue(message.queue, Buffer.from(JSON.stringify(message.body)), {
      persistent: true,
      contentType: 'application/json',
      type: message.kind,
      messageId,
      correlationId: message.correlationId ?? messageId,
      timestamp: Math.floor(Date.now() / 1000),
      appId: 'legacy-warehouse',
    });
    await channel.waitForConfirms();
    await channel.close();
    return messageId;
  } finally {
    await connection.close();
  }
}

async function main(argv: string[]): Promise<number> {
  let message: WarehouseMessage;
  try {
    message = parseArguments(argv, new Date());
    const url = message.url ?? (await localBrokerUrl(process.env, process.cwd()));
    const messageId = await publishWarehouseMessage(message, url);
    process.stdout.write(`published ${message.kind} message ${messageId} to ${message.queue}: ${JSON.stringify(message.body)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${error instanceof PublishUsageError ? `${USAGE}\n` : ''}`);
    return error instanceof PublishUsageError ? 2 : 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));

export { publishWarehouseMessage };

/**
 * Amazon MQ for RabbitMQ on the local cloud: `npm start`'s real RabbitMQ (Debian's rabbitmq-server as a child
 * process), the producer script speaking AMQP with amqplib, the poller handing warehouseDispatch Amazon MQ's
 * RabbitMQ event, and the OrderShipped it publishes arriving on the order topic (a tap queue sees it). Skipped,
 * with the reason, where rabbitmq-server is not installed (CI installs it: .ci/run).
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type RabbitMqPoller } from 'local-cloud';
import { publishWarehouseMessage } from '../../scripts/warehouse/publish.ts';
import { startCloudForTests, uniqueCustomer, type CloudUnderTest, type Tap } from './helpers/cloud.ts';

const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const SKIP_REASON = 'rabbitmq-server is not installed (apt-get install -y rabbitmq-server)';
const installed = existsSync(RABBITMQ_SERVER);

describe.skipIf(!installed)(installed ? 'Amazon MQ for RabbitMQ on the local cloud: warehouse messages become order events' : `Amazon MQ (skipped: ${SKIP_REASON})`, () => {
  let t: CloudUnderTest;
  let tap: Tap;
  let url: string;

  beforeAll(async () => {
    t = await startCloudForTests('warehouse', { rabbitMq: true });
    tap = await t.tap(`warehouse-tap-${process.pid}`);
    // The cloud is ready before its RabbitMQ node: the broker and its mapping's poller once it accepts AMQP.
    await t.cloud.brokersReady;
    const broker = t.cloud.brokers.WarehouseBroker;
    if (!broker) throw new Error(`no local broker (logs:\n${t.tail(20)})`);
    url = broker.url;
  }, 240_000);

  afterAll(async () => {
    await t?.dispose();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t.tail(60)}`);
  });

  const poller = (): RabbitMqPoller => t.cloud.pollers.find((p) => 'queue' in p.mapping) as RabbitMqPoller;

  it('a dispatch message published over AMQP reaches warehouseDispatch as an Amazon MQ RabbitMQ event and becomes OrderShipped on the topic', { timeout: 60_000 }, async () => {
    // Prepare
    const orderId = uniqueCustomer('wh').replace(/[^A-Za-z0-9_-]/g, '-');

    // Act
    await publishWarehouseMessage({ kind: 'dispatch', body: { orderId, trackingNumber: 'TRK-1', carrier: 'dpd', dispatchedAt: '2026-12-03T10:00:00Z' }, queue: 'warehouse-dispatch', correlationId: 'corr-wh-1' }, url);

    // Assess: the event the function got has Amazon MQ's shape
    const invocation = await waitFor(() => t.invocations.find((i) => i.functionName.endsWith('-warehouseDispatch') && i.result?.ok === true && JSON.stringify(i.event).includes(Buffer.from(orderId).toString('base64').slice(0, 12))), {
      what: 'warehouseDispatch invoked with the dispatch',
      timeoutMs: 30_000,
    });
    const event = invocation.event as { eventSource: string; eventSourceArn: string; rmqMessagesByQueue: Record<string, { basicProperties: Record<string, unknown>; redelivered: boolean; data: string }[]> };
    expect(event.eventSource).toBe('aws:rmq');
    expect(event.eventSourceArn).toMatch(/^arn:aws:mq:us-east-1:\d{12}:broker:orderflow-local-warehouse:b-[0-9a-f-]+$/);
    const [message] = event.rmqMessagesByQueue['warehouse-dispatch::/'] ?? [];
    expect(message?.redelivered).toBe(false);
    expect(message?.basicProperties).toMatchObject({ contentType: 'application/json', type: 'dispatch', correlationId: 'corr-wh-1', deliveryMode: 2, appId: 'legacy-warehouse' });
    expect(message?.basicProperties.timestamp).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$/);
    expect(JSON.parse(Buffer.from(message?.data ?? '', 'base64').toString('utf8'))).toMatchObject({ orderId, trackingNumber: 'TRK-1' });

    // and the OrderShipped it published is on the order topic
    const shipped = await waitFor(
      async () => {
        const bodies = (await tap.drain()).map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
        return bodies.find((b) => b.orderId === orderId && b.type === 'OrderShipped');
      },
      { what: 'OrderShipped on the topic', timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(shipped).toMatchObject({ eventId: `${orderId}:OrderShipped`, trackingNumber: 'TRK-1', labelKey: 'warehouse/dpd/TRK-1', correlationId: 'corr-wh-1', occurredAt: '2026-12-03T10:00:00.000Z' });
    expect(poller().stats.acked).toBeGreaterThanOrEqual(1);
  });

  it('a message that does not parse fails the batch, which is rejected back onto the queue and comes again redelivered (nothing lost)', { timeout: 60_000 }, async () => {
    // Act
    await publishWarehouseMessage({ kind: 'stock', body: { sku: 'BOOK-1', available: -1 }, queue: 'warehouse-dispatch' }, url);

    // Assess
    const again = await waitFor(
      () =>
        t.invocations.find((i) => {
          const messages = (i.event as { rmqMessagesByQueue?: Record<string, { redelivered: boolean; data: string }[]> }).rmqMessagesByQueue?.['warehouse-dispatch::/'] ?? [];
          return i.result?.ok === false && messages.some((m) => m.redelivered && Buffer.from(m.data, 'base64').toString('utf8').includes('"available":-1'));
        }),
      { what: 'the bad stock message failed again, redelivered', timeoutMs: 30_000 },
    );
    expect(again.result?.ok).toBe(false);
    expect(t.logs.some((line) => line.includes('record failed') && line.includes('available'))).toBe(true);
    expect(poller().stats.failedBatches).toBeGreaterThanOrEqual(2);
  });
});

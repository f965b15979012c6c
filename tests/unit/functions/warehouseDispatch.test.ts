import '../helpers/env.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InternalErrorException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { warehouseDispatchHandler, type RabbitMqEvent } from '../../../functions/warehouseDispatch.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';

const snsMock = mockClient(SNSClient);
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, '../../../events/rabbitmq/warehouse-messages.json'), 'utf8')) as RabbitMqEvent;
const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

/** The fixture with the first message's body replaced (base64, as Amazon MQ delivers it). */
const withDispatchBody = (body: unknown): RabbitMqEvent => {
  const event = structuredClone(FIXTURE);
  const [first] = event.rmqMessagesByQueue['warehouse-dispatch::/'] ?? [];
  if (first) first.data = Buffer.from(JSON.stringify(body)).toString('base64');
  return event;
};

describe('Function: warehouseDispatch', () => {
  beforeAll(() => {
    stubDeployedEnv('warehouseDispatch');
  });

  afterEach(() => {
    snsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it("publishes a dispatch message as the order's OrderShipped and counts a stock message without an event", async () => {
    // Prepare
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });

    // Act
    const result = await warehouseDispatchHandler(structuredClone(FIXTURE));

    // Assess
    expect(result).toEqual({ shipped: 1, stock: 1 });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    const input = snsMock.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input?.TopicArn).toBe(DEPLOYED.TOPIC_ARN);
    expect(input?.MessageGroupId).toBe(ORDER_A);
    expect(input?.MessageDeduplicationId).toBe(`${ORDER_A}:OrderShipped`);
    expect(JSON.parse(input?.Message ?? '{}')).toEqual({
      type: 'OrderShipped',
      eventId: `${ORDER_A}:OrderShipped`,
      orderId: ORDER_A,
      occurredAt: '2026-12-03T10:00:00.000Z',
      correlationId: 'wh-corr-1',
      fulfillment: 'physical',
      labelKey: 'warehouse/dpd/DPD123456',
      trackingNumber: 'DPD123456',
    });
  });

  it('fails the invocation naming every field at fault, so the batch is not acknowledged; nothing is published', async () => {
    // Prepare
    const event = withDispatchBody({ orderId: 'has spaces', trackingNumber: '', carrier: 'dpd', dispatchedAt: 'yesterday', extra: 1 });

    // Act
    const run = warehouseDispatchHandler(event);

    // Assess
    await expect(run).rejects.toMatchObject({
      name: 'InvalidEventError',
      fields: expect.arrayContaining([
        expect.objectContaining({ field: 'orderId' }),
        expect.objectContaining({ field: 'trackingNumber' }),
        expect.objectContaining({ field: 'dispatchedAt' }),
        expect.objectContaining({ field: 'extra' }),
      ]),
    });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  it('refuses a message whose AMQP type is neither dispatch nor stock, naming basicProperties.type', async () => {
    // Prepare
    const event = structuredClone(FIXTURE);
    const [first] = event.rmqMessagesByQueue['warehouse-dispatch::/'] ?? [];
    if (first) first.basicProperties.type = 'invoice';

    // Act
    const run = warehouseDispatchHandler(event);

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'InvalidEventError', fields: [expect.objectContaining({ field: 'basicProperties.type' })] });
  });

  it('rethrows an SNS failure, so the batch comes again (the deterministic eventId makes the retry harmless)', async () => {
    // Prepare
    snsMock.on(PublishCommand).rejects(new InternalErrorException({ message: 'internal error', $metadata: {} }));

    // Act
    const run = warehouseDispatchHandler(structuredClone(FIXTURE));

    // Assess
    await expect(run).rejects.toBeInstanceOf(InternalErrorException);
  });
});

import '../helpers/env.ts';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chargeOrder, invoiceKeyFor, simulatedPayment, type ChargePayment } from '#lib/charge.ts';
import { parseOrderPlaced, type OrderPlacedEvent } from '#lib/events/order-events.ts';
import { DEPLOYED } from '../helpers/env.ts';
import { firstRecord } from '../helpers/fixtures.ts';

const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
const options = { bucket: DEPLOYED.DOCUMENTS_BUCKET, topicArn: DEPLOYED.TOPIC_ARN };
const placed = (): OrderPlacedEvent => parseOrderPlaced(firstRecord('order-placed-physical').body);
const fixedPayment: ChargePayment = async ({ orderId, amountCents }) => ({ chargeId: `ch_test_${orderId.slice(0, 8)}`, amountCents, chargedAt: '2026-11-22T10:15:31.087Z' });

describe('Lib: charge', () => {
  afterEach(() => {
    s3Mock.reset();
    snsMock.reset();
  });

  it('charges the order total, writes the invoice once and publishes OrderCharged', async () => {
    // Prepare
    const event = placed();
    const pay = vi.fn(fixedPayment);

    // Act
    const charged = await chargeOrder(event, { ...options, pay });

    // Assess
    expect(pay).toHaveBeenCalledExactlyOnceWith({ orderId: event.orderId, customerId: 'c-42', amountCents: 3448 });
    expect(charged).toEqual({
      type: 'OrderCharged',
      eventId: `${event.orderId}:OrderCharged`,
      orderId: event.orderId,
      occurredAt: '2026-11-22T10:15:31.087Z',
      correlationId: event.correlationId,
      fulfillment: 'physical',
      chargeId: 'ch_test_7c9e6679',
      amountCents: 3448,
      invoiceKey: `documents/invoices/${event.orderId}.json`,
    });
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Bucket: options.bucket, Key: invoiceKeyFor(event.orderId), IfNoneMatch: '*', ContentType: 'application/json' });
    const invoice = JSON.parse(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as string);
    expect(invoice).toEqual({
      invoiceNumber: `INV-${event.orderId}`,
      orderId: event.orderId,
      customerId: 'c-42',
      chargeId: 'ch_test_7c9e6679',
      issuedAt: '2026-11-22T10:15:31.087Z',
      lines: [
        { sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299, lineTotalCents: 2598 },
        { sku: 'MUG-3', quantity: 1, unitPriceCents: 850, lineTotalCents: 850 },
      ],
      totalCents: 3448,
    });
    expect(snsMock).toHaveReceivedCommandExactlyOnceWith(PublishCommand, { TopicArn: options.topicArn, Message: JSON.stringify(charged), MessageDeduplicationId: charged.eventId });
  });

  it('publishes OrderCharged even when the invoice already exists (a retried step moves on)', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } }));

    // Act
    await chargeOrder(placed(), { ...options, pay: fixedPayment });

    // Assess
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('publishes nothing when the invoice cannot be written', async () => {
    // Prepare
    const slowDown = new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'Please reduce your request rate.', $metadata: { httpStatusCode: 503 } });
    s3Mock.on(PutObjectCommand).rejects(slowDown);

    // Act + Assess
    await expect(chargeOrder(placed(), { ...options, pay: fixedPayment })).rejects.toBe(slowDown);
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('writes nothing when the payment fails', async () => {
    // Prepare
    const declined = new Error('card declined');

    // Act + Assess
    await expect(chargeOrder(placed(), { ...options, pay: async () => Promise.reject(declined) })).rejects.toBe(declined);
    expect(s3Mock).not.toHaveReceivedAnyCommand();
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('simulatedPayment: the same order always gets the same charge id', async () => {
    // Act
    const first = await simulatedPayment({ orderId: 'o-1', customerId: 'c-1', amountCents: 100 });
    const second = await simulatedPayment({ orderId: 'o-1', customerId: 'c-1', amountCents: 100 });
    const other = await simulatedPayment({ orderId: 'o-2', customerId: 'c-1', amountCents: 100 });

    // Assess
    expect(first.chargeId).toMatch(/^ch_[0-9a-f]{24}$/);
    expect(second.chargeId).toBe(first.chargeId);
    expect(other.chargeId).not.toBe(first.chargeId);
    expect(first.amountCents).toBe(100);
    expect(Number.isNaN(Date.parse(first.chargedAt))).toBe(false);
  });
});

import '../helpers/env.ts';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { announceShipmentHandler, handler } from '../../../functions/announceShipment.ts';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { snsEvent } from '../helpers/fixtures.ts';

const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('announceShipment');

describe('Function: announceShipment', () => {
  beforeAll(() => {
    stubDeployedEnv('announceShipment');
  });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:15:32.000Z'));
  });

  afterEach(() => {
    vi.useRealTimers();
    documentsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('marks the order announced once (the first time wins) from the SNS event', async () => {
    // Act
    await announceShipmentHandler(snsEvent('shipment-notice'), context);

    // Assess
    expect(documentsMock).toHaveReceivedCommandExactlyOnceWith(UpdateCommand, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
      ExpressionAttributeNames: { '#a': 'shipmentAnnouncedAt' },
      ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z' },
    });
  });

  it('throws on a malformed notice, so Lambda retries the asynchronous event instead of dropping it silently', async () => {
    // Prepare
    const event = snsEvent('shipment-notice');
    (event.Records[0] as SNSEvent['Records'][number]).Sns.Message = '{}';

    // Act + Assess
    await expect(announceShipmentHandler(event, context)).rejects.toBeInstanceOf(InvalidEventError);
    expect(documentsMock).not.toHaveReceivedAnyCommand();
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act + Assess
    await expect(handler(snsEvent('shipment-notice'), context)).resolves.toBeUndefined();
    expect(documentsMock).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });
});

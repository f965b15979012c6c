import '../helpers/env.ts';
import { DeleteItemCommand, DynamoDBClient, ProvisionedThroughputExceededException, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { InternalErrorException, PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, placeOrderHandler } from '../../../functions/placeOrder.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeIdempotencyTable, type FakeIdempotencyTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { httpEvent } from '../helpers/fixtures.ts';
import { metrics } from '#lib/powertools.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const snsMock = mockClient(SNSClient);
const dynamodbMock = mockClient(DynamoDBClient);
const context = fakeContext('placeOrder');

const place = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await placeOrderHandler(event, context)) as APIGatewayProxyStructuredResultV2;
const bodyOf = (response: APIGatewayProxyStructuredResultV2): Record<string, unknown> => JSON.parse(response.body as string);
const publishedMessages = (): Record<string, unknown>[] =>
  snsMock.commandCalls(PublishCommand).map((call) => JSON.parse((call.args[0].input as PublishCommandInput).Message as string));
const withKey = (event: APIGatewayProxyEventV2, key: string): APIGatewayProxyEventV2 => ({ ...event, headers: { ...event.headers, 'idempotency-key': key } });

describe('Function: placeOrder', () => {
  let idempotency: FakeIdempotencyTable;

  beforeAll(() => {
    stubDeployedEnv('placeOrder');
  });

  beforeEach(() => {
    idempotency = fakeIdempotencyTable(dynamodbMock);
  });

  afterEach(() => {
    snsMock.reset();
    dynamodbMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('answers 202 and publishes OrderPlaced to the FIFO topic (group = orderId, dedup id = eventId, filter attributes)', async () => {
    // Prepare
    const event = httpEvent('place-order-physical');

    // Act
    const response = await place(event);

    // Assess
    expect(response.statusCode).toBe(202);
    const { orderId } = bodyOf(response) as { orderId: string };
    expect(bodyOf(response)).toEqual({ orderId: expect.stringMatching(UUID), status: 'PLACED' });
    expect(response.headers).toEqual({ 'content-type': 'application/json', location: `/orders/${orderId}` });
    expect(snsMock).toHaveReceivedCommandExactlyOnceWith(PublishCommand, {
      TopicArn: DEPLOYED.TOPIC_ARN,
      MessageGroupId: orderId,
      MessageDeduplicationId: `${orderId}:OrderPlaced`,
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'OrderPlaced' },
        fulfillment: { DataType: 'String', StringValue: 'physical' },
        orderId: { DataType: 'String', StringValue: orderId },
        correlationId: { DataType: 'String', StringValue: event.requestContext.requestId },
      },
    });
    const [message] = publishedMessages();
    expect(message).toMatchObject({
      type: 'OrderPlaced',
      eventId: `${orderId}:OrderPlaced`,
      orderId,
      correlationId: event.requestContext.requestId,
      fulfillment: 'physical',
      order: { ...JSON.parse(event.body as string), orderId, totalCents: 3448 },
    });
    expect(dynamodbMock).not.toHaveReceivedAnyCommand();
  });

  it('places a digital order (no shipping address) with its fulfillment attribute', async () => {
    // Act
    const response = await place(httpEvent('place-order-digital'));

    // Assess
    expect(response.statusCode).toBe(202);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { MessageAttributes: expect.objectContaining({ fulfillment: { DataType: 'String', StringValue: 'digital' } }) });
    expect(publishedMessages()[0]?.order).not.toHaveProperty('shippingAddress');
  });

  it('carries the caller\'s X-Correlation-Id instead of the request id', async () => {
    // Prepare
    const event = httpEvent('place-order-digital');
    event.headers['x-correlation-id'] = 'checkout-7f3a';

    // Act
    await place(event);

    // Assess
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { MessageAttributes: expect.objectContaining({ correlationId: { DataType: 'String', StringValue: 'checkout-7f3a' } }) });
  });

  it('answers 400 naming each bad field, and publishes nothing', async () => {
    // Act
    const response = await place(httpEvent('place-order-invalid'));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({
      error: 'Invalid order',
      fields: [
        { field: 'customerId', message: 'must not be empty' },
        { field: 'items[0].quantity', message: 'must be between 1 and 1000' },
        { field: 'items[0].unitPriceCents', message: 'must be a whole number' },
        { field: 'shippingAddress.country', message: 'must match an ISO 3166-1 alpha-2 code such as GB' },
      ],
    });
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('answers 400 for a body that is not JSON, or missing, and publishes nothing', async () => {
    // Prepare
    const broken = httpEvent('place-order-physical');
    broken.body = '{"customerId":"c-42",';
    const empty = httpEvent('place-order-physical');
    delete empty.body;

    // Act
    const responses = [await place(broken), await place(empty)];

    // Assess
    for (const response of responses) {
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response)).toEqual({ error: 'Invalid order', fields: [{ field: '(body)', message: 'is not valid JSON' }] });
    }
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('answers 413 for a body over 262,144 bytes (SNS\'s message limit), and publishes nothing', async () => {
    // Prepare: a valid order padded with JSON whitespace to one byte over the limit
    const event = httpEvent('place-order-physical');
    const body = event.body as string;
    event.body = `${body}${' '.repeat(262_144 - Buffer.byteLength(body) + 1)}`;

    // Act
    const response = await place(event);

    // Assess
    expect(Buffer.byteLength(event.body)).toBe(262_145);
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response)).toEqual({ error: 'Request body too large', fields: [{ field: '(body)', message: 'must be at most 262144 bytes' }] });
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('accepts a body of exactly 262,144 bytes', async () => {
    // Prepare
    const event = httpEvent('place-order-physical');
    const body = event.body as string;
    event.body = `${body}${' '.repeat(262_144 - Buffer.byteLength(body))}`;

    // Act
    const response = await place(event);

    // Assess
    expect(response.statusCode).toBe(202);
  });

  it.each(['text/plain', 'application/json-patch+json', 'application/jsonp'])('answers 415 for the content type %s, and publishes nothing', async (contentType) => {
    // Prepare
    const event = httpEvent('place-order-physical');
    event.headers['content-type'] = contentType;

    // Act
    const response = await place(event);

    // Assess
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response)).toEqual({ error: 'Unsupported content type', fields: [{ field: 'content-type', message: 'must be application/json' }] });
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('answers 415 naming content-type when the request has none, and publishes nothing', async () => {
    // Prepare
    const event = httpEvent('place-order-physical');
    delete event.headers['content-type'];

    // Act
    const response = await place(event);

    // Assess
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response)).toEqual({ error: 'Unsupported content type', fields: [{ field: 'content-type', message: 'is required: application/json' }] });
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('counts what it answers: OrdersPlaced for a 202, OrdersRejected for a 4xx (a metric on every invocation)', async () => {
    // Prepare
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const invalid = httpEvent('place-order-physical');
    invalid.body = '{';

    // Act
    const accepted = await place(httpEvent('place-order-physical'));
    const rejected = await place(invalid);

    // Assess
    expect([accepted.statusCode, rejected.statusCode]).toEqual([202, 400]);
    expect(addMetric.mock.calls).toEqual([
      ['OrdersPlaced', MetricUnit.Count, 1],
      ['OrdersRejected', MetricUnit.Count, 1],
    ]);
    addMetric.mockRestore();
    metrics.clearMetrics();
  });

  it('accepts JSON with a charset, and a base64-encoded body (API Gateway encodes some requests)', async () => {
    // Prepare
    const charset = httpEvent('place-order-digital');
    charset.headers['content-type'] = 'application/json; charset=utf-8';
    const encoded = httpEvent('place-order-digital');
    encoded.body = Buffer.from(encoded.body as string).toString('base64');
    encoded.isBase64Encoded = true;

    // Act
    const responses = [await place(charset), await place(encoded)];

    // Assess
    expect(responses.map((response) => response.statusCode)).toEqual([202, 202]);
    expect(publishedMessages().map((message) => (message.order as { customerId: string }).customerId)).toEqual(['c-77', 'c-77']);
  });

  it('answers 400 for an Idempotency-Key or X-Correlation-Id that is not 1 to 128 visible ASCII characters', async () => {
    // Prepare
    const event = httpEvent('place-order-digital');
    event.headers['idempotency-key'] = 'has spaces';
    event.headers['x-correlation-id'] = 'x'.repeat(129);

    // Act
    const response = await place(event);

    // Assess
    expect(response.statusCode).toBe(400);
    expect((bodyOf(response).fields as { field: string }[]).map((field) => field.field)).toEqual(['Idempotency-Key', 'X-Correlation-Id']);
    expect(snsMock).not.toHaveReceivedAnyCommand();
    expect(dynamodbMock).not.toHaveReceivedAnyCommand();
  });

  describe('Idempotency-Key', () => {
    it('answers the same order id for the same key and body, and publishes once', async () => {
      // Prepare
      const event = withKey(httpEvent('place-order-physical'), 'checkout-5b1e-attempt');

      // Act
      const first = await place(event);
      const retry = await place(structuredClone(event));

      // Assess
      expect([first.statusCode, retry.statusCode]).toEqual([202, 202]);
      expect(bodyOf(retry)).toEqual(bodyOf(first));
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
      expect(dynamodbMock).toHaveReceivedCommandTimes(PutItemCommand, 2);
      expect(dynamodbMock).toHaveReceivedCommandWith(PutItemCommand, { TableName: DEPLOYED.IDEMPOTENCY_TABLE, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
      expect(idempotency.records()).toEqual([
        expect.objectContaining({ id: expect.stringMatching(/^orderflow-dev-placeOrder#/), status: 'COMPLETED', data: bodyOf(first), validation: expect.any(String) }),
      ]);
    });

    it('derives the order id from the key and the order, so a retry after a lost idempotency record republishes the same event', async () => {
      // Prepare: the same request twice, the idempotency record lost in between (as if the first attempt died
      // after publishing and before Powertools saved its result)
      const event = withKey(httpEvent('place-order-physical'), 'checkout-lost-record');

      // Act
      const first = await place(event);
      idempotency.items.clear();
      const retry = await place(structuredClone(event));
      await place(withKey(httpEvent('place-order-physical'), 'another-key'));

      // Assess: SNS FIFO drops the second publish (same group and deduplication id)
      expect(bodyOf(retry)).toEqual(bodyOf(first));
      const published = snsMock.commandCalls(PublishCommand).map((call) => [call.args[0].input.MessageGroupId, call.args[0].input.MessageDeduplicationId]);
      expect(published[0]).toEqual(published[1]);
      expect(published[2]?.[0]).not.toBe(published[0]?.[0]);
    });

    it('treats the same body with keys in another order as the same body', async () => {
      // Prepare
      const event = withKey(httpEvent('place-order-digital'), 'k-1');
      const reordered = structuredClone(event);
      const { customerId, items, fulfillment } = JSON.parse(event.body as string);
      reordered.body = JSON.stringify({ fulfillment, items, customerId });

      // Act
      const first = await place(event);
      const retry = await place(reordered);

      // Assess
      expect(bodyOf(retry)).toEqual(bodyOf(first));
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    });

    it('answers 422 when the key is reused with a different body, and publishes nothing more', async () => {
      // Prepare
      const event = withKey(httpEvent('place-order-physical'), 'checkout-5b1e-attempt');
      const other = withKey(httpEvent('place-order-digital'), 'checkout-5b1e-attempt');

      // Act
      await place(event);
      const response = await place(other);

      // Assess
      expect(response.statusCode).toBe(422);
      expect(bodyOf(response)).toEqual({
        error: 'Idempotency-Key reused with a different order',
        fields: [{ field: 'Idempotency-Key', message: 'was already used for another order body' }],
      });
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    });

    it('answers 409 while the first request with that key is still in progress', async () => {
      // Prepare: the first request's publish has not returned yet
      const publishStarted = Promise.withResolvers<void>();
      const publishing = Promise.withResolvers<Record<string, never>>();
      snsMock.on(PublishCommand).callsFakeOnce(() => {
        publishStarted.resolve();
        return publishing.promise;
      });
      const event = withKey(httpEvent('place-order-digital'), 'double-click');

      // Act
      const first = place(event);
      await publishStarted.promise;
      const second = await place(structuredClone(event));
      publishing.resolve({});

      // Assess
      expect(second.statusCode).toBe(409);
      expect((await first).statusCode).toBe(202);
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    });

    it('frees the key when publishing fails, so the client can retry it', async () => {
      // Prepare
      snsMock.on(PublishCommand).rejectsOnce(new InternalErrorException({ message: 'Internal error', $metadata: { httpStatusCode: 500 } }));
      const event = withKey(httpEvent('place-order-digital'), 'retry-me');

      // Act
      await expect(place(event)).rejects.toBeInstanceOf(InternalErrorException);
      const retry = await place(structuredClone(event));

      // Assess
      expect(dynamodbMock).toHaveReceivedCommandTimes(DeleteItemCommand, 1);
      expect(retry.statusCode).toBe(202);
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
      expect(dynamodbMock).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
    });

    it('fails (500) without publishing when the idempotency table cannot be written', async () => {
      // Prepare
      dynamodbMock.on(PutItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }));

      // Act + Assess
      await expect(place(withKey(httpEvent('place-order-digital'), 'k-2'))).rejects.toThrow('Failed to save in progress record to idempotency store');
      expect(snsMock).not.toHaveReceivedAnyCommand();
    });
  });

  it('rejects with the SNS error when publishing fails (API Gateway answers 500; nothing was accepted)', async () => {
    // Prepare
    snsMock.on(PublishCommand).rejects(new InternalErrorException({ message: 'Internal error', $metadata: { httpStatusCode: 500 } }));

    // Act + Assess
    await expect(place(httpEvent('place-order-physical'))).rejects.toBeInstanceOf(InternalErrorException);
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = (await handler(httpEvent('place-order-physical'), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(202);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });
});

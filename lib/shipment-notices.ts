/**
 * SNS subscribers that are not queues: a partner's HTTPS webhook and a Lambda function, both on the standard
 * shipment-notices topic (resources/notifications.yml). A FIFO topic (order-events) delivers to SQS queues only
 * (SNS developer guide, "FIFO topics"), so shipOrder also publishes each OrderShipped, unordered, to this standard
 * topic for the subscribers that are not queues.
 *
 * - `publishShipmentNotice`: the publisher's side, with the attributes the subscriptions' filter policies match on.
 * - `shipmentNoticesOf`: a Lambda subscriber's side, reading SNS's event (Records[].Sns).
 * - `verifySnsMessage`: a webhook's side (copy it into the receiver): SNS signs every message; a receiver fetches
 *   the certificate at SigningCertURL, only from a host it trusts, and checks the signature of the fields SNS signs
 *   (SNS developer guide, "Verifying the signatures of Amazon SNS messages"). scripts/webhook/receiver.ts uses it.
 */
import { X509Certificate, createVerify } from 'node:crypto';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { sns } from './aws/clients/sns.ts';
import { InvalidEventError } from './domain/errors.ts';
import { isOrderId, type OrderShippedEvent } from './events/order-events.ts';

/** What partners and the announceShipment function get: the shipped event's public part. */
interface ShipmentNotice {
  orderId: string;
  trackingNumber: string;
  shippedAt: string;
  correlationId: string;
}

/**
 * Publishes an OrderShipped to the standard shipment-notices topic (no group, no deduplication id: a standard topic
 * takes neither). A retried shipOrder may publish it twice: subscribers are idempotent (announceShipment marks once).
 *
 * @example
 * await publishShipmentNotice(process.env.SHIPMENT_NOTICES_TOPIC_ARN, shipped);
 */
const publishShipmentNotice = async (topicArn: string, shipped: OrderShippedEvent): Promise<void> => {
  const notice: ShipmentNotice = { orderId: shipped.orderId, trackingNumber: shipped.trackingNumber, shippedAt: shipped.occurredAt, correlationId: shipped.correlationId };
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: 'OrderShipped',
      Message: JSON.stringify(notice),
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'OrderShipped' },
        orderId: { DataType: 'String', StringValue: shipped.orderId },
        correlationId: { DataType: 'String', StringValue: shipped.correlationId },
      },
    }),
  );
};

const parseNotice = (text: string): ShipmentNotice => {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new InvalidEventError('shipment notice', [{ field: 'Message', message: 'is not JSON' }]);
  }
  const issues = ['orderId', 'trackingNumber', 'shippedAt', 'correlationId']
    .filter((field) => typeof value[field] !== 'string' || value[field] === '')
    .map((field) => ({ field, message: 'must be a non-empty string' }));
  if (typeof value.orderId === 'string' && !isOrderId(value.orderId)) issues.push({ field: 'orderId', message: 'is not an order id' });
  if (issues.length > 0) throw new InvalidEventError('shipment notice', issues);
  return value as unknown as ShipmentNotice;
};

/**
 * The notices of an SNS event (one record per invocation on AWS; a list all the same). Throws InvalidEventError
 * naming the field at fault.
 *
 * @example
 * for (const notice of shipmentNoticesOf(event)) await announce(notice);
 */
const shipmentNoticesOf = (event: SNSEvent): ShipmentNotice[] =>
  event.Records.map((record) => {
    if (record.EventSource !== 'aws:sns') throw new InvalidEventError('SNS event', [{ field: 'Records[].EventSource', message: `is ${record.EventSource}, not aws:sns` }]);
    return parseNotice(record.Sns.Message);
  });

/** The fields SNS signs per message type, in this order (the verification page). */
const SIGNED: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** AWS's SigningCertURL hosts: `sns.<region>.amazonaws.com` (and .com.cn); a receiver must refuse any other. */
const AWS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

interface VerifyOptions {
  /** Reads the PEM at a URL; default fetch. Cache it by URL in a real receiver. */
  fetchCertificate?: (url: string) => Promise<string>;
  /** Extra certificate origins to trust, e.g. the local cloud's edge `http://127.0.0.1:4566` (never in production). */
  trustedOrigins?: string[];
}

/**
 * Whether an SNS HTTP/S message (the POSTed JSON) is signed by SNS: the certificate from a trusted SigningCertURL,
 * SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA). A false answer means: drop the message, answer 4xx.
 *
 * @example
 * if (!(await verifySnsMessage(JSON.parse(body)))) return res.writeHead(403).end();
 */
const verifySnsMessage = async (message: Record<string, unknown>, options: VerifyOptions = {}): Promise<boolean> => {
  const fields = SIGNED[String(message.Type)];
  const certUrl = typeof message.SigningCertURL === 'string' ? message.SigningCertURL : '';
  if (fields === undefined || typeof message.Signature !== 'string' || certUrl === '') return false;
  let url: URL;
  try {
    url = new URL(certUrl);
  } catch {
    return false;
  }
  const trusted = (url.protocol === 'https:' && AWS_CERT_HOST.test(url.hostname)) || (options.trustedOrigins ?? []).includes(url.origin);
  if (!trusted || !url.pathname.endsWith('.pem')) return false;
  const version = message.SignatureVersion;
  if (version !== '1' && version !== '2') return false;
  const pem = await (options.fetchCertificate ?? (async (u: string) => (await fetch(u)).text()))(certUrl);
  const signed = fields.filter((field) => typeof message[field] === 'string').map((field) => `${field}\n${String(message[field])}\n`).join('');
  try {
    return createVerify(version === '2' ? 'sha256' : 'sha1').update(signed).verify(new X509Certificate(pem).publicKey, message.Signature, 'base64');
  } catch {
    return false;
  }
};

export { publishShipmentNotice, shipmentNoticesOf, verifySnsMessage };


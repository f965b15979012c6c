import '../helpers/env.ts';
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { shipmentNoticesOf, verifySnsMessage } from '#lib/shipment-notices.ts';
import { snsEvent } from '../helpers/fixtures.ts';

/** A test-only key and its self-signed certificate (made by the local cloud's signer, packages/local-cloud/src/fidelity/sns-signing.ts). */
const KEY = readFileSync(new URL('../fixtures/sns-signing-key.pem', import.meta.url), 'utf8');
const CERT = readFileSync(new URL('../fixtures/sns-signing-cert.pem', import.meta.url), 'utf8');
const EDGE = 'http://127.0.0.1:4566';

/** A Notification signed as SNS signs one (the fields, name then value, one per line). */
const signed = (overrides: Record<string, string> = {}, version: '1' | '2' = '1'): Record<string, unknown> => {
  const message: Record<string, unknown> = {
    Type: 'Notification',
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:us-east-1:000000000000:orderflow-local-shipment-notices',
    Subject: 'OrderShipped',
    Message: '{"orderId":"o-1"}',
    Timestamp: '2026-12-03T10:00:00.000Z',
    SignatureVersion: version,
    SigningCertURL: `${EDGE}/_aws/sns/SimpleNotificationService-local.pem`,
    ...overrides,
  };
  const text = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'].map((field) => `${field}\n${String(message[field])}\n`).join('');
  message.Signature = createSign(version === '2' ? 'sha256' : 'sha1').update(text).sign(KEY, 'base64');
  return message;
};

describe('Lib: shipment-notices', () => {
  const options = { trustedOrigins: [EDGE], fetchCertificate: async (): Promise<string> => CERT };

  it('verifySnsMessage: accepts SignatureVersion 1 and 2 from a trusted certificate origin', async () => {
    expect(await verifySnsMessage(signed(), options)).toBe(true);
    expect(await verifySnsMessage(signed({}, '2'), options)).toBe(true);
  });

  it('verifySnsMessage: refuses a changed field, a certificate from an untrusted host, and a missing signature', async () => {
    // Prepare
    const message = signed();

    // Act + Assess
    expect(await verifySnsMessage({ ...message, Message: '{"orderId":"o-2"}' }, options)).toBe(false);
    expect(await verifySnsMessage(signed({ SigningCertURL: 'https://attacker.example/SimpleNotificationService.pem' }), options)).toBe(false);
    expect(await verifySnsMessage(signed({ SigningCertURL: 'http://sns.us-east-1.amazonaws.com/cert.pem' }), { fetchCertificate: options.fetchCertificate })).toBe(false);
    expect(await verifySnsMessage({ ...message, Signature: undefined }, options)).toBe(false);
    expect(await verifySnsMessage({ ...message, SignatureVersion: '3' }, options)).toBe(false);
  });

  it('shipmentNoticesOf: reads each record of an SNS event (Records[].Sns.Message)', () => {
    // Prepare
    const event = snsEvent('shipment-notice');

    // Act
    const notices = shipmentNoticesOf(event);

    // Assess
    expect(notices).toEqual([
      { orderId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', trackingNumber: 'OF1A2B3C4D5E6F7A8B', shippedAt: '2026-11-22T10:15:31.544Z', correlationId: 'Dk4tPhR2IAMEYpA=' },
    ]);
  });

  it('shipmentNoticesOf: names the field at fault', () => {
    // Prepare
    const event = snsEvent('shipment-notice');
    const [record] = event.Records;
    if (record === undefined) throw new Error('fixture has no record');
    record.Sns.Message = JSON.stringify({ orderId: '../etc', trackingNumber: 'OF1', shippedAt: '2026-11-22T10:15:31.544Z' });

    // Act + Assess
    expect(() => shipmentNoticesOf(event)).toThrow(InvalidEventError);
    expect(() => shipmentNoticesOf(event)).toThrow(/correlationId.*must be a non-empty string|orderId is not an order id/);
    record.Sns.Message = 'not json';
    expect(() => shipmentNoticesOf(event)).toThrow(/Message is not JSON/);
  });
});

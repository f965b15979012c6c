/**
 * SNS message signatures, made locally so a receiver can verify them the way it verifies AWS's (SNS developer guide,
 * "Verifying the signatures of Amazon SNS messages"): the string to sign is the message's fields, name then value, one
 * per line, in byte order of the names, each followed by a newline; SignatureVersion 1 signs it with SHA1withRSA,
 * version 2 with SHA256withRSA; the certificate is at SigningCertURL.
 *
 * The local cloud keeps one RSA key and a self-signed X.509 certificate for it in `<dataDir>/sns/`, made at the first
 * start and reused, so a receiver that caches the certificate by URL keeps working across restarts. Node has no API
 * that issues certificates, hence the few DER encoders below (RFC 5280 section 4.1: TBSCertificate, signed).
 */
import { createSign, generateKeyPairSync, randomBytes, type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The fields SNS signs for each message type (the same page), in the order they are signed. */
const SIGNED_FIELDS = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
} as const;

type SnsMessageType = keyof typeof SIGNED_FIELDS;

/** The string SNS signs: `Name\nvalue\n` for each signed field present (Subject only when the message has one). */
function stringToSign(message: Record<string, unknown>): string {
  const type = message.Type as SnsMessageType;
  const fields = SIGNED_FIELDS[type];
  if (fields === undefined) throw new Error(`not an SNS message type: ${String(type)}`);
  return fields
    .filter((field) => typeof message[field] === 'string')
    .map((field) => `${field}\n${String(message[field])}\n`)
    .join('');
}

// --- DER, just what a self-signed certificate needs --------------------------------------------------------------
const der = (tag: number, content: Buffer): Buffer => {
  const length = content.length;
  const head =
    length < 0x80 ? Buffer.from([tag, length]) : length < 0x100 ? Buffer.from([tag, 0x81, length]) : Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([head, content]);
};
const sequence = (...parts: Buffer[]): Buffer => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => der(0x31, Buffer.concat(parts));
const oid = (dotted: string): Buffer => {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const value of rest) {
    const chunk = [value & 0x7f];
    for (let v = value >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
};
const utf8 = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'));
const utcTime = (date: Date): Buffer => der(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`, 'ascii'));
const positiveInteger = (bytes: Buffer): Buffer => der(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));

/** A self-signed certificate (PEM) for `key`, valid ten years from now, named `commonName`. */
function selfSignedCertificate(privateKey: KeyObject, commonName: string, now = new Date()): string {
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
  const until = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // version v3
    positiveInteger(randomBytes(16)),
    SHA256_WITH_RSA,
    name,
    sequence(utcTime(now), utcTime(until)),
    name,
    spki,
  );
  const signature = createSign('sha256').update(tbs).sign(privateKey);
  const certificate = sequence(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

interface SnsSigner {
  /** The certificate's PEM, served at SigningCertURL. */
  certificatePem: string;
  /** Adds Signature to a message with SignatureVersion '1' or '2' (which it must carry). */
  sign(message: Record<string, unknown>): string;
}

/** The signing key and certificate of `<dir>` (made there at the first call). */
function snsSigner(dir: string): SnsSigner {
  const keyFile = join(dir, 'signing-key.pem');
  const certFile = join(dir, 'signing-cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(certFile, selfSignedCertificate(privateKey, 'sns.local-cloud'));
  }
  const privateKey = createPrivateKey(readFileSync(keyFile));
  return {
    certificatePem: readFileSync(certFile, 'utf8'),
    sign: (message) => createSign(message.SignatureVersion === '2' ? 'sha256' : 'sha1').update(stringToSign(message)).sign(privateKey, 'base64'),
  };
}

export { snsSigner, stringToSign };
export type { SnsSigner };

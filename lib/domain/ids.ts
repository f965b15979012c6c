import { createHash, createHmac } from 'node:crypto';

/**
 * A name-based UUID (RFC 9562 layout, version 5 bits, from SHA-256 rather than SHA-1) derived from text: the same
 * input always gives the same id, which is what lets a retried step find, or deduplicate, what its first attempt did.
 *
 * @example
 * deterministicId('imports/2026-11-22.ndjson#"9b2cf5"...:12'); // '3f0c2a1e-....'
 */
const deterministicId = (text: string): string => uuidLayout(createHash('sha256').update(text).digest(), 0x50);

/**
 * A UUID (RFC 9562 layout, version 8: "custom") from an HMAC-SHA256 of text under a secret key: the same input
 * always gives the same id, and without the key nobody can compute it, or tell which input gave an id.
 *
 * @example
 * keyedId(await orderIdKey(), JSON.stringify([sub, idempotencyKey, order])); // '9d1e07c2-....'
 */
const keyedId = (key: string, text: string): string => uuidLayout(createHmac('sha256', key).update(text).digest(), 0x80);

const uuidLayout = (digest: Buffer, version: number): string => {
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | version;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // RFC variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

export { deterministicId, keyedId };

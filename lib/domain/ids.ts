import { createHash } from 'node:crypto';

/**
 * A uuid-shaped id derived from text (the first 128 bits of its SHA-256): the same input always gives the same id,
 * which is what lets a retried step find, or deduplicate, what its first attempt did.
 *
 * @example
 * deterministicId('imports/2026-11-22.ndjson#"9b2cf5"...:12'); // '3f0c2a1e-....'
 */
const deterministicId = (text: string): string => {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

export { deterministicId };

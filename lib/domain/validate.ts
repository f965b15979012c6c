import type { FieldError } from './errors.ts';

/**
 * Tiny validation helpers used by the order and event schemas. Hand-written rather than zod so each bundle stays
 * small (zod v4 classic alone measured ~443 KB of a 485 KB bundle here): every check reports the field path.
 */
type Issues = FieldError[];

// C0 and C1 control characters; tab and newline included: no order field needs them.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// U+FFFE and U+FFFF are outside the characters an SQS message may hold (#x9 | #xA | #xD | #x20-#xD7FF |
// #xE000-#xFFFD | #x10000-#x10FFFF: SQS API reference, SendMessage), and every order event reaches SQS through SNS.
const NONCHARACTERS = /[\ufffe\uffff]/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const checkKnownKeys = (value: Record<string, unknown>, allowed: readonly string[], path: string, issues: Issues): void => {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) issues.push({ field: join(path, key), message: 'is not an allowed field' });
  }
};

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

interface StringRule {
  min?: number;
  max: number;
  pattern?: RegExp;
  patternHint?: string;
}

const checkString = (value: unknown, path: string, rule: StringRule, issues: Issues): value is string => {
  if (typeof value !== 'string') {
    issues.push({ field: path, message: value === undefined ? 'is required' : 'must be a string' });
    return false;
  }
  const min = rule.min ?? 1;
  if (value.length < min) issues.push({ field: path, message: min === 1 ? 'must not be empty' : `must be at least ${min} characters` });
  else if (value.length > rule.max) issues.push({ field: path, message: `must be at most ${rule.max} characters` });
  else if (CONTROL_CHARS.test(value)) issues.push({ field: path, message: 'must not contain control characters' });
  // A lone surrogate has no UTF-8 encoding and DynamoDB strings are UTF-8 (DynamoDB developer guide, data types):
  // accepted, the order could not be stored as sent, long after its 202.
  else if (!value.isWellFormed() || NONCHARACTERS.test(value)) issues.push({ field: path, message: 'must be valid Unicode text (no lone surrogates, U+FFFE or U+FFFF)' });
  else if (rule.pattern && !rule.pattern.test(value)) issues.push({ field: path, message: `must match ${rule.patternHint ?? rule.pattern.source}` });
  else return true;
  return false;
};

const checkInteger = (value: unknown, path: string, min: number, max: number, issues: Issues): value is number => {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push({ field: path, message: value === undefined ? 'is required' : 'must be a number' });
    return false;
  }
  if (!Number.isInteger(value)) issues.push({ field: path, message: 'must be a whole number' });
  else if (value < min || value > max) issues.push({ field: path, message: `must be between ${min} and ${max}` });
  else return true;
  return false;
};

const checkOneOf = <T extends string>(value: unknown, path: string, allowed: readonly T[], issues: Issues): value is T => {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return true;
  issues.push({ field: path, message: value === undefined ? 'is required' : `must be one of ${allowed.join(', ')}` });
  return false;
};

export type { Issues, StringRule };
export { isRecord, checkKnownKeys, checkString, checkInteger, checkOneOf, join };

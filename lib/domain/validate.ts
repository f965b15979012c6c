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
// Unicode format characters (general category Cf): bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
// U+061C) that reorder what a reader sees (the "Trojan Source" attack, CVE-2021-42574), and invisible ones
// (U+200B-U+200D, U+2060, U+FEFF, U+00AD, tag characters) that make two names look equal and compare different.
const FORMAT_CHARS = /\p{Cf}/u;
// The one Cf use a name keeps: U+200D ZERO WIDTH JOINER inside an emoji ZWJ sequence (Unicode UTS #51), between two
// pictographs, the first with its variation selector or skin tone (👩‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻). Removed before the Cf test.
const EMOJI_ZWJ = /(?<=\p{Extended_Pictographic}[\p{M}\p{Emoji_Modifier}]*)\u200d(?=\p{Extended_Pictographic})/gu;
// A JSON number written the one canonical way for an integer: no exponent, fraction, leading zero, plus or minus zero.
const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof NonCanonicalNumber);

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
  /**
   * Free text a person reads (a name, an address line): also refuses a value of whitespace only and Unicode
   * format characters (category Cf: bidi controls, zero-width characters), emoji ZWJ sequences excepted.
   */
  text?: boolean;
}

/**
 * A JSON number whose text is not the canonical form of an integer (`1e3`, `-0`, `5.0`, `1000.0000000000000001`):
 * JSON.parse turns each into a number that looks valid (1000, -0, 5, 1000), so parseJsonText keeps the source
 * text instead, and checkInteger refuses it naming the field.
 */
class NonCanonicalNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

type Reviver = (this: unknown, key: string, value: unknown) => unknown;

const keepNonCanonicalNumbers = ((_key: string, value: unknown, context?: { source?: string }) =>
  typeof value === 'number' && context?.source !== undefined && !CANONICAL_INTEGER.test(context.source)
    ? new NonCanonicalNumber(context.source)
    : value) as Reviver;

/**
 * JSON.parse, except that a number not written as a canonical integer becomes a NonCanonicalNumber holding its
 * source text (JSON.parse source text access, a reviver's third argument: ECMAScript 2025, Node 21 and later).
 * Throws SyntaxError like JSON.parse.
 *
 * @example
 * const issues = orderIssues(parseJsonText('{"items":[{"sku":"A","quantity":1e3,"unitPriceCents":1}]}'));
 * // [..., { field: 'items[0].quantity', message: 'must be written as a plain integer ...' }]
 */
const parseJsonText = (text: string): unknown => {
  try {
    return JSON.parse(text, keepNonCanonicalNumbers);
  } catch (error) {
    // A reviver walks the parsed value recursively: thousands of nesting levels overflow the stack (RangeError)
    // where JSON.parse alone copes. No schema here nests more than 4 levels, so such a value is refused anyway,
    // on its structure: parse it without the reviver so the answer names the deep field, not the body.
    if (error instanceof RangeError) return JSON.parse(text) as unknown;
    throw error;
  }
};

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
  else if (rule.text && value.trim() === '') issues.push({ field: path, message: 'must not be blank (whitespace only)' });
  else if (rule.text && FORMAT_CHARS.test(value.replace(EMOJI_ZWJ, ''))) issues.push({ field: path, message: 'must not contain invisible format characters (bidi controls, zero-width characters: Unicode category Cf)' });
  else if (rule.pattern && !rule.pattern.test(value)) issues.push({ field: path, message: `must match ${rule.patternHint ?? rule.pattern.source}` });
  else return true;
  return false;
};

const checkInteger = (value: unknown, path: string, min: number, max: number, issues: Issues): value is number => {
  if (value instanceof NonCanonicalNumber) {
    const number = Number(value.source);
    if (!Number.isFinite(number)) issues.push({ field: path, message: 'must be a number' });
    else if (!Number.isInteger(number)) issues.push({ field: path, message: 'must be a whole number' });
    else issues.push({ field: path, message: `must be written as a plain integer (no exponent, fraction or minus zero): got ${value.source.slice(0, 40)}` });
    return false;
  }
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

export type { Issues };
export { NonCanonicalNumber, parseJsonText, isRecord, checkKnownKeys, checkString, checkInteger, checkOneOf, join };

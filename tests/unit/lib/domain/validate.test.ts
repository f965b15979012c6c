import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NonCanonicalNumber, checkInteger, checkKnownKeys, checkOneOf, checkString, isRecord, join, parseJsonText, type Issues } from '#lib/domain/validate.ts';

/** Format characters (Unicode category Cf) of each kind: bidi controls, zero-width, invisible operators, soft hyphen, tags. */
const FORMAT_CHARS = ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C', '\u200B', '\u200C', '\u200D', '\u2060', '\u2062', '\uFEFF', '\u00AD', '\u180E', '\u{E0041}', '\u{E0001}'];
const WHITESPACE = [' ', '\u00A0', '\u2003', '\u3000', '\u2028', '\u205F', '\u1680'];

describe('Lib: domain/validate', () => {
  it('checkString: passes a string within the rule, else records one issue naming the path', () => {
    // Prepare
    const issues: Issues = [];

    // Act
    const results = [
      checkString('ok', 'a', { max: 5 }, issues),
      checkString(undefined, 'b', { max: 5 }, issues),
      checkString(7, 'c', { max: 5 }, issues),
      checkString('', 'd', { max: 5 }, issues),
      checkString('x', 'e', { min: 2, max: 5 }, issues),
      checkString('toolong', 'f', { max: 5 }, issues),
      checkString('a\tb', 'g', { max: 5 }, issues),
      checkString('a\u0085b', 'h', { max: 5 }, issues),
      checkString('ab', 'i', { max: 5, pattern: /^a$/, patternHint: 'just a' }, issues),
      checkString('ab', 'j', { max: 5, pattern: /^a$/ }, issues),
    ];

    // Assess
    expect(results).toEqual([true, false, false, false, false, false, false, false, false, false]);
    expect(issues).toEqual([
      { field: 'b', message: 'is required' },
      { field: 'c', message: 'must be a string' },
      { field: 'd', message: 'must not be empty' },
      { field: 'e', message: 'must be at least 2 characters' },
      { field: 'f', message: 'must be at most 5 characters' },
      { field: 'g', message: 'must not contain control characters' },
      { field: 'h', message: 'must not contain control characters' },
      { field: 'i', message: 'must match just a' },
      { field: 'j', message: 'must match ^a$' },
    ]);
  });

  it('checkString: rejects text SQS or DynamoDB could not carry (lone surrogates, U+FFFE, U+FFFF), accepts astral characters', () => {
    // Prepare
    const issues: Issues = [];

    // Act
    const results = [
      checkString('a\ud800b', 'lone', { max: 5 }, issues),
      checkString('a\ufffe', 'fffe', { max: 5 }, issues),
      checkString('\uffff', 'ffff', { max: 5 }, issues),
      checkString('😀', 'emoji', { max: 5 }, issues),
    ];

    // Assess
    expect(results).toEqual([false, false, false, true]);
    expect(issues.map((issue) => issue.field)).toEqual(['lone', 'fffe', 'ffff']);
    expect(new Set(issues.map((issue) => issue.message))).toEqual(new Set(['must be valid Unicode text (no lone surrogates, U+FFFE or U+FFFF)']));
  });

  it('checkInteger: passes a whole number in range, else records one issue', () => {
    // Prepare
    const issues: Issues = [];

    // Act
    const results = [1, 0, 10, undefined, '3', Number.NaN, Number.POSITIVE_INFINITY, 1.5, -1, 11].map((value, index) => checkInteger(value, `n${index}`, 0, 10, issues));

    // Assess
    expect(results).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(issues.map((issue) => issue.message)).toEqual([
      'is required',
      'must be a number',
      'must be a number',
      'must be a number',
      'must be a whole number',
      'must be between 0 and 10',
      'must be between 0 and 10',
    ]);
  });

  it('checkString with text: refuses whitespace only and format characters (Cf), keeps emoji ZWJ sequences and right-to-left text', () => {
    // Prepare
    const issues: Issues = [];
    const rule = { max: 100, text: true };

    // Act
    const results = [
      checkString('   ', 'spaces', rule, issues),
      checkString('\u00a0\u3000', 'nbsp', rule, issues),
      checkString('Ada\u202Eevil', 'bidi', rule, issues),
      checkString('A\u200Bda', 'zwsp', rule, issues),
      checkString('\u200DAda', 'lone zwj', rule, issues),
      checkString('Ada\u00ADLovelace', 'soft hyphen', rule, issues),
      checkString('   ', 'no text rule', { max: 5 }, issues),
      checkString('👩‍👩‍👧‍👦 🏳️‍🌈 👩🏽‍💻', 'emoji', rule, issues),
      checkString('שלום עולם', 'hebrew', rule, issues),
      checkString(' Ada ', 'padded', rule, issues),
    ];

    // Assess
    expect(results).toEqual([false, false, false, false, false, false, true, true, true, true]);
    expect(issues).toEqual([
      { field: 'spaces', message: 'must not be blank (whitespace only)' },
      { field: 'nbsp', message: 'must not be blank (whitespace only)' },
      ...['bidi', 'zwsp', 'lone zwj', 'soft hyphen'].map((field) => ({ field, message: 'must not contain invisible format characters (bidi controls, zero-width characters: Unicode category Cf)' })),
    ]);
  });

  it('checkString with text: any format character anywhere, or whitespace only, is one issue naming the field', () => {
    const around = fc.string({ unit: fc.constantFrom(...'Ada Lovelace-1,'.split('')), maxLength: 40 });
    fc.assert(
      fc.property(around, fc.constantFrom(...FORMAT_CHARS), around, (before, format, after) => {
        const issues: Issues = [];
        expect(checkString(`${before}${format}${after}`, 'shippingAddress.name', { max: 100, text: true }, issues)).toBe(false);
        expect(issues.map((issue) => issue.field)).toEqual(['shippingAddress.name']);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WHITESPACE), { minLength: 1, maxLength: 30 }), (spaces) => {
        const issues: Issues = [];
        expect(checkString(spaces.join(''), 'shippingAddress.city', { max: 100, text: true }, issues)).toBe(false);
        expect(issues).toEqual([{ field: 'shippingAddress.city', message: 'must not be blank (whitespace only)' }]);
      }),
    );
  });

  it('parseJsonText: keeps canonical integers as numbers, the source text of any other number', () => {
    // Act
    const value = parseJsonText('{"a":[0,7,-12,1000],"b":[1e3,1E2,-0,-0.0,5.0,1000.0000000000000001,12.99,1e400],"c":"1e3"}') as Record<string, unknown[]>;

    // Assess
    expect(value.a).toEqual([0, 7, -12, 1000]);
    expect(value.b?.map((n) => (n instanceof NonCanonicalNumber ? n.source : n))).toEqual(['1e3', '1E2', '-0', '-0.0', '5.0', '1000.0000000000000001', '12.99', '1e400']);
    expect(value.c).toBe('1e3');
    expect(isRecord(value.b?.[0])).toBe(false);
    expect(() => parseJsonText('{"a":')).toThrow(SyntaxError);
  });

  it('parseJsonText: parses a value nested deeper than the reviver can walk (20,000 levels) as JSON.parse does', () => {
    // Prepare
    const deep = `{"customerId":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;

    // Act
    const value = parseJsonText(deep) as { customerId: { a: unknown } };

    // Assess: the shape JSON.parse gives (vitest's deep equality would itself overflow on 20,000 levels)
    expect(isRecord(value.customerId)).toBe(true);
    expect(isRecord(value.customerId.a)).toBe(true);
  });

  it('checkInteger: refuses a non-canonical number naming the field: exponent, fraction or minus zero', () => {
    // Prepare
    const issues: Issues = [];
    const [thousand, minusZero, tiny, fraction, huge] = parseJsonText('[1e3,-0,1000.0000000000000001,12.99,1e400]') as unknown[];

    // Act
    const results = [thousand, minusZero, tiny, fraction, huge].map((value, index) => checkInteger(value, `n${index}`, 0, 1_000, issues));

    // Assess
    expect(results).toEqual([false, false, false, false, false]);
    expect(issues).toEqual([
      { field: 'n0', message: 'must be written as a plain integer (no exponent, fraction or minus zero): got 1e3' },
      { field: 'n1', message: 'must be written as a plain integer (no exponent, fraction or minus zero): got -0' },
      { field: 'n2', message: 'must be written as a plain integer (no exponent, fraction or minus zero): got 1000.0000000000000001' },
      { field: 'n3', message: 'must be a whole number' },
      { field: 'n4', message: 'must be a number' },
    ]);
  });

  it('checkOneOf: passes an allowed value, else names the allowed values', () => {
    const issues: Issues = [];
    expect(checkOneOf('b', 'f', ['a', 'b'], issues)).toBe(true);
    expect(checkOneOf('c', 'f', ['a', 'b'], issues)).toBe(false);
    expect(checkOneOf(undefined, 'g', ['a', 'b'], issues)).toBe(false);
    expect(issues).toEqual([
      { field: 'f', message: 'must be one of a, b' },
      { field: 'g', message: 'is required' },
    ]);
  });

  it('checkKnownKeys: names every key outside the allowed list, with its path', () => {
    const issues: Issues = [];
    checkKnownKeys({ a: 1, b: 2, c: 3 }, ['a'], 'items[0]', issues);
    checkKnownKeys({ z: 1 }, ['a'], '', issues);
    expect(issues).toEqual([
      { field: 'items[0].b', message: 'is not an allowed field' },
      { field: 'items[0].c', message: 'is not an allowed field' },
      { field: 'z', message: 'is not an allowed field' },
    ]);
  });

  it('isRecord: true for plain objects only; join: dotted paths', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(isRecord(value)).toBe(typeof value === 'object' && value !== null && !Array.isArray(value));
      }),
    );
    expect(join('', 'a')).toBe('a');
    expect(join('a', 'b')).toBe('a.b');
  });
});

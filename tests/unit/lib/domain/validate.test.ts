import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkInteger, checkKnownKeys, checkOneOf, checkString, isRecord, join, type Issues } from '#lib/domain/validate.ts';

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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DelayOutOfRangeError, SQS_MAX_DELAY_SECONDS, checkDelaySeconds, parseReviewDelays, reviewDelayFor } from '#lib/review-delay.ts';

describe('Lib: review-delay', () => {
  it('checkDelaySeconds accepts every whole number of seconds from 0 to 900 and refuses any other value, naming the field', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SQS_MAX_DELAY_SECONDS }), (seconds) => {
        expect(checkDelaySeconds(seconds, 'DelaySeconds')).toBe(seconds);
      }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: SQS_MAX_DELAY_SECONDS + 1 }), fc.integer({ max: -1 }), fc.double({ noInteger: true }), fc.string()), (value) => {
        expect(() => checkDelaySeconds(value, 'X.delay')).toThrow(DelayOutOfRangeError);
        expect(() => checkDelaySeconds(value, 'X.delay')).toThrow(/^X\.delay is /);
      }),
    );
  });

  it('parseReviewDelays reads a JSON object of countries; empty means none', () => {
    // Act
    const delays = parseReviewDelays('{"GB":300,"IE":600}');

    // Assess
    expect(delays).toEqual({ GB: 300, IE: 600 });
    expect(parseReviewDelays('')).toEqual({});
  });

  it('parseReviewDelays refuses a value SQS would refuse, naming the variable and the country', () => {
    // Act
    const parse = (): unknown => parseReviewDelays('{"GB":300,"US":3600}');

    // Assess
    expect(parse).toThrow(DelayOutOfRangeError);
    expect(parse).toThrow('REVIEW_DELAY_BY_COUNTRY.US is 3600: SQS accepts a DelaySeconds from 0 to 900 (15 minutes)');
    expect(() => parseReviewDelays('[300]')).toThrow('REVIEW_DELAY_BY_COUNTRY is [300]');
    expect(() => parseReviewDelays('{GB:300}')).toThrow('REVIEW_DELAY_BY_COUNTRY is "{GB:300}"');
  });

  it("reviewDelayFor: the country's delay, or undefined (the queue's own) for a country not listed or no address", () => {
    // Prepare
    const delays = { GB: 300 };

    // Act, Assess
    expect(reviewDelayFor('GB', delays)).toBe(300);
    expect(reviewDelayFor('FR', delays)).toBeUndefined();
    expect(reviewDelayFor(undefined, delays)).toBeUndefined();
    expect(reviewDelayFor('toString', delays)).toBeUndefined();
  });
});

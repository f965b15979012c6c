/**
 * Per-message delay: a message's own `DelaySeconds` overrides its queue's for that message alone (SQS developer
 * guide, "Amazon SQS message timers"). The review-requests queue waits `reviewDelaySeconds` by default; an order
 * shipped to a country listed in REVIEW_DELAY_BY_COUNTRY (stage param `reviewDelayByCountry`) is asked for its
 * review after that country's delay instead, because its parcel arrives sooner or later than the default assumes.
 *
 * SQS accepts 0 to 900 seconds (15 minutes) on a queue and on a message (SQS API reference, SendMessage
 * `DelaySeconds`); anything else is refused with InvalidParameterValue. A longer wait needs another tool (EventBridge
 * Scheduler, a Step Functions wait state): these helpers refuse it, naming the field, before anything is sent.
 */
import { OrderflowError } from './domain/errors.ts';

/** The longest delay SQS accepts, on a queue or a message: 900 s (SQS API reference, SendMessage DelaySeconds). */
const SQS_MAX_DELAY_SECONDS = 900;

/** A delay SQS would refuse (not a whole number of seconds from 0 to 900); `field` names where it came from. */
class DelayOutOfRangeError extends OrderflowError {
  readonly field: string;
  constructor(field: string, value: unknown) {
    super(`${field} is ${JSON.stringify(value)}: SQS accepts a DelaySeconds from 0 to ${SQS_MAX_DELAY_SECONDS} (15 minutes); use EventBridge Scheduler for longer waits`);
    this.name = 'DelayOutOfRangeError';
    this.field = field;
  }
}

/** Seconds of delay per ISO 3166-1 alpha-2 country of the shipping address. */
type ReviewDelays = Readonly<Record<string, number>>;

/**
 * Returns `seconds` if SQS accepts it as a DelaySeconds, otherwise throws DelayOutOfRangeError naming `field`.
 *
 * @example
 * new SendMessageCommand({ QueueUrl, MessageBody, DelaySeconds: checkDelaySeconds(seconds, 'DelaySeconds') });
 */
const checkDelaySeconds = (seconds: unknown, field: string): number => {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > SQS_MAX_DELAY_SECONDS) throw new DelayOutOfRangeError(field, seconds);
  return seconds;
};

/**
 * Reads the per-country delays (a JSON object such as `{"GB":300}`; '' = none), checking every value, so a bad
 * configuration fails naming the variable and country instead of failing each SendMessage.
 *
 * @example
 * const delays = parseReviewDelays(process.env.REVIEW_DELAY_BY_COUNTRY ?? '');
 */
const parseReviewDelays = (json: string, name = 'REVIEW_DELAY_BY_COUNTRY'): ReviewDelays => {
  if (json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new DelayOutOfRangeError(name, json.slice(0, 80));
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DelayOutOfRangeError(name, parsed);
  const delays: Record<string, number> = {};
  for (const [country, seconds] of Object.entries(parsed)) delays[country] = checkDelaySeconds(seconds, `${name}.${country}`);
  return delays;
};

/**
 * The DelaySeconds for an order's review request: its country's, or undefined to leave the queue's own delay.
 *
 * @example
 * const DelaySeconds = reviewDelayFor(order.shippingAddress?.country, delays);
 */
const reviewDelayFor = (country: string | undefined, delays: ReviewDelays): number | undefined =>
  country === undefined || !Object.hasOwn(delays, country) ? undefined : checkDelaySeconds(delays[country], 'DelaySeconds');

export { DelayOutOfRangeError, SQS_MAX_DELAY_SECONDS, checkDelaySeconds, parseReviewDelays, reviewDelayFor };
export type { ReviewDelays };

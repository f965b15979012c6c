/**
 * Firehose S3 object keys, as pure functions: `<evaluated prefix><suffix>`.
 *
 * Rules from "Custom Prefixes for Amazon S3 Objects"
 * (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html) and "Amazon S3 object name
 * format" (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html):
 * - expressions are `!{namespace:value}`, namespaces `timestamp` (a Java DateTimeFormatter pattern,
 *   evaluated on the approximate arrival time of the oldest record in the object, UTC unless
 *   CustomTimeZone) and `firehose` (`error-output-type`, `random-string`);
 * - a Prefix without a `timestamp` expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended;
 * - ErrorOutputPrefix can be empty only when Prefix has no expressions; it then evaluates to
 *   `<Prefix><error-output-type>/yyyy/MM/dd/HH/`; when it has expressions it must contain
 *   `!{firehose:error-output-type}`; Prefix must not;
 * - suffix: `<stream name>-<stream version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><file extension>`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AwsApiError } from '../util/errors.ts';

type PrefixPart = { literal: string } | { namespace: 'timestamp'; pattern: string } | { namespace: 'firehose'; value: 'error-output-type' | 'random-string' };

/** Error output types Firehose writes for an S3 destination. */
type ErrorOutputType = 'processing-failed' | 'format-conversion-failed';

interface KeyContext {
  /** Approximate arrival time of the oldest record in the object. */
  time: Date;
  /** IANA zone (`CustomTimeZone`); UTC when absent. */
  timeZone?: string;
  errorOutputType?: ErrorOutputType;
}

const DEFAULT_TIME_PREFIX: PrefixPart = { namespace: 'timestamp', pattern: 'yyyy/MM/dd/HH/' };

/** Splits a prefix into literals and expressions. @throws AwsApiError `InvalidArgumentException` */
function parsePrefix(prefix: string, field: string): PrefixPart[] {
  const parts: PrefixPart[] = [];
  let rest = prefix;
  while (rest !== '') {
    const start = rest.indexOf('!{');
    if (start === -1) {
      parts.push({ literal: rest });
      break;
    }
    if (start > 0) parts.push({ literal: rest.slice(0, start) });
    const end = rest.indexOf('}', start);
    if (end === -1) throw new AwsApiError('InvalidArgumentException', `${field}: unterminated expression in ${JSON.stringify(prefix)}`);
    const expression = rest.slice(start + 2, end);
    const colon = expression.indexOf(':');
    const namespace = colon === -1 ? expression : expression.slice(0, colon);
    const value = colon === -1 ? '' : expression.slice(colon + 1);
    if (namespace === 'timestamp') {
      formatTimestamp(new Date(0), value); // validates the pattern
      parts.push({ namespace, pattern: value });
    } else if (namespace === 'firehose' && (value === 'error-output-type' || value === 'random-string')) {
      parts.push({ namespace, value });
    } else if (namespace === 'partitionKeyFromQuery' || namespace === 'partitionKeyFromLambda') {
      throw new AwsApiError('InvalidArgumentException', `${field}: dynamic partitioning (!{${namespace}:...}) is not supported by the local Firehose`);
    } else {
      throw new AwsApiError('InvalidArgumentException', `${field}: unknown expression !{${expression}} in ${JSON.stringify(prefix)}`);
    }
    rest = rest.slice(end + 1);
  }
  return parts;
}

const hasExpressions = (parts: PrefixPart[]): boolean => parts.some((part) => !('literal' in part));

const hasErrorOutputType = (parts: PrefixPart[]): boolean =>
  parts.some((part) => 'namespace' in part && part.namespace === 'firehose' && part.value === 'error-output-type');

/** Checks Prefix and ErrorOutputPrefix together. @throws AwsApiError `InvalidArgumentException` */
function validatePrefixes(prefix: string, errorOutputPrefix: string, field: string): void {
  const parts = parsePrefix(prefix, `${field}.Prefix`);
  const errorParts = parsePrefix(errorOutputPrefix, `${field}.ErrorOutputPrefix`);
  if (hasErrorOutputType(parts)) {
    throw new AwsApiError('InvalidArgumentException', `${field}.Prefix: !{firehose:error-output-type} is only allowed in ErrorOutputPrefix`);
  }
  if (hasExpressions(parts) && errorOutputPrefix === '') {
    throw new AwsApiError('InvalidArgumentException', `${field}.ErrorOutputPrefix cannot be null or empty when Prefix contains expressions`);
  }
  if (hasExpressions(errorParts) && !hasErrorOutputType(errorParts)) {
    throw new AwsApiError(
      'InvalidArgumentException',
      `${field}.ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions`,
    );
  }
}

interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  weekday: number;
  dayOfYear: number;
}

function dateParts(time: Date, timeZone: string | undefined): DateParts {
  if (timeZone === undefined || timeZone === 'UTC') {
    const startOfYear = Date.UTC(time.getUTCFullYear(), 0, 1);
    return {
      year: time.getUTCFullYear(),
      month: time.getUTCMonth() + 1,
      day: time.getUTCDate(),
      hour: time.getUTCHours(),
      minute: time.getUTCMinutes(),
      second: time.getUTCSeconds(),
      millisecond: time.getUTCMilliseconds(),
      weekday: time.getUTCDay(),
      dayOfYear: Math.floor((time.getTime() - startOfYear) / 86_400_000) + 1,
    };
  }
  const formatted = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(time);
  const part = (type: Intl.DateTimeFormatPartTypes): number => Number(formatted.find((entry) => entry.type === type)?.value ?? 0);
  const local = new Date(Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'), time.getUTCMilliseconds()));
  return dateParts(local, undefined);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function formatField(letter: string, count: number, parts: DateParts): string {
  const pad = (value: number, width: number): string => String(value).padStart(width, '0');
  switch (letter) {
    case 'y':
    case 'u':
      return count === 2 ? pad(parts.year % 100, 2) : pad(parts.year, count);
    case 'M':
      if (count >= 4) return MONTHS[parts.month - 1] ?? '';
      if (count === 3) return (MONTHS[parts.month - 1] ?? '').slice(0, 3);
      return pad(parts.month, count);
    case 'd':
      return pad(parts.day, count);
    case 'D':
      return pad(parts.dayOfYear, count);
    case 'H':
      return pad(parts.hour, count);
    case 'h':
      return pad(parts.hour % 12 === 0 ? 12 : parts.hour % 12, count);
    case 'm':
      return pad(parts.minute, count);
    case 's':
      return pad(parts.second, count);
    case 'S':
      return pad(parts.millisecond, 3).padEnd(count, '0').slice(0, count);
    case 'E':
      return count >= 4 ? (WEEKDAYS[parts.weekday] ?? '') : (WEEKDAYS[parts.weekday] ?? '').slice(0, 3);
    case 'a':
      return parts.hour < 12 ? 'AM' : 'PM';
    default:
      throw new AwsApiError('InvalidArgumentException', `Unsupported DateTimeFormatter pattern letter '${letter}'`);
  }
}

/**
 * Formats like Java's DateTimeFormatter for the letters prefixes use (y u M d D H h m s S E a);
 * text in single quotes is literal, `''` is a quote, other non-letters are literal.
 */
function formatTimestamp(time: Date, pattern: string, timeZone?: string): string {
  const parts = dateParts(time, timeZone);
  let output = '';
  let index = 0;
  while (index < pattern.length) {
    const character = pattern[index] ?? '';
    if (character === "'") {
      if (pattern[index + 1] === "'") {
        output += "'";
        index += 2;
        continue;
      }
      const close = pattern.indexOf("'", index + 1);
      if (close === -1) throw new AwsApiError('InvalidArgumentException', `Unterminated quote in timestamp pattern ${JSON.stringify(pattern)}`);
      output += pattern.slice(index + 1, close);
      index = close + 1;
      continue;
    }
    if (/[A-Za-z]/.test(character)) {
      let count = 1;
      while (pattern[index + count] === character) count += 1;
      output += formatField(character, count, parts);
      index += count;
      continue;
    }
    output += character;
    index += 1;
  }
  return output;
}

/** 11 random characters (`!{firehose:random-string}`). */
function randomString(): string {
  return randomBytes(8).toString('hex').slice(0, 11);
}

function evaluateParts(parts: PrefixPart[], context: KeyContext): string {
  return parts
    .map((part) => {
      if ('literal' in part) return part.literal;
      if (part.namespace === 'timestamp') return formatTimestamp(context.time, part.pattern, context.timeZone);
      return part.value === 'random-string' ? randomString() : (context.errorOutputType ?? 'processing-failed');
    })
    .join('');
}

/** The evaluated `Prefix` of a delivered object. */
function evaluatePrefix(prefix: string, context: KeyContext): string {
  const parts = parsePrefix(prefix, 'Prefix');
  const hasTimestamp = parts.some((part) => 'namespace' in part && part.namespace === 'timestamp');
  return evaluateParts(hasTimestamp ? parts : [...parts, DEFAULT_TIME_PREFIX], context);
}

/** The evaluated `ErrorOutputPrefix` of an object of failed records. */
function evaluateErrorPrefix(prefix: string, errorOutputPrefix: string, context: KeyContext & { errorOutputType: ErrorOutputType }): string {
  if (errorOutputPrefix === '') {
    return `${prefix}${context.errorOutputType}/${formatTimestamp(context.time, 'yyyy/MM/dd/HH/', context.timeZone)}`;
  }
  return evaluateParts(parsePrefix(errorOutputPrefix, 'ErrorOutputPrefix'), context);
}

/** `<stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`. */
function objectSuffix(input: { streamName: string; version: string; time: Date; timeZone?: string; extension: string; uuid?: string }): string {
  const stamp = formatTimestamp(input.time, 'yyyy-MM-dd-HH-mm-ss', input.timeZone);
  return `${input.streamName}-${input.version}-${stamp}-${input.uuid ?? randomUUID()}${input.extension}`;
}

export { evaluateErrorPrefix, evaluatePrefix, formatTimestamp, objectSuffix, validatePrefixes };
export type { ErrorOutputType };


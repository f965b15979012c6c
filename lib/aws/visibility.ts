import type { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import { sqs } from './clients/sqs.ts';

interface HeartbeatOptions {
  queueUrl: string;
  receiptHandle: string;
  /** Seconds of invisibility each beat asks for, counted from the beat (SQS ChangeMessageVisibility semantics). */
  extendBySeconds: number;
  /** How often to beat, in ms; default: at half of extendBySeconds. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Runs slow work on an SQS message while keeping the message invisible: every interval it calls
 * ChangeMessageVisibility, so the message is not handed to another consumer mid-work. Stops when the work ends.
 * (SQS developer guide, "Visibility timeout": extend it for messages that take longer than expected.)
 *
 * @example
 * await withVisibilityHeartbeat({ queueUrl, receiptHandle: record.receiptHandle, extendBySeconds: 60 }, () => printLabel(order));
 */
const withVisibilityHeartbeat = async <T>(options: HeartbeatOptions, work: () => Promise<T>): Promise<T> => {
  const { queueUrl, receiptHandle, extendBySeconds, intervalMs = (extendBySeconds * 1000) / 2, onError } = options;
  const timer = setInterval(() => {
    sqs
      .send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: extendBySeconds }))
      .catch((error: unknown) => onError?.(error));
  }, intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
};

interface RetryInProgressOptions {
  queueUrl: string;
  /** The receipt handle of this delivery (a redelivery gets a new one). */
  receiptHandle: string;
  /** Seconds to wait when the in-progress record has no expiry (no Lambda context registered); default 10. */
  unknownExpirySeconds?: number;
  /** Upper bound, below the queue's visibility timeout (or the retry would come later than without us); default 60. */
  maxSeconds?: number;
  /** Called when ChangeMessageVisibility fails; the work's own error is rethrown either way. */
  onError?: (error: unknown) => void;
}

/**
 * Matched by name, as Powertools matches its own errors: this module does not load the idempotency package.
 * Powertools 2.35 throws it without `existingRecord`; `withInProgressRecord` (lib/idempotency.ts) attaches it.
 */
const isInProgressError = (error: unknown): error is IdempotencyAlreadyInProgressError =>
  error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError';

/**
 * Whole seconds from `nowMs` to the first second after the in-progress record expires, within 1..maxSeconds.
 * Strictly after: Powertools takes over an in-progress record only once `in_progress_expiration < now` (the
 * DynamoDB persistence layer's PutItem condition), and a retry that comes too early costs one of the message's
 * maxReceiveCount receives. So 7,000 ms ahead gives 8 s, 6,500 ms gives 7 s.
 */
const secondsUntilRetry = (expiryMs: number | undefined, nowMs: number, unknownExpirySeconds: number, maxSeconds: number): number => {
  if (typeof expiryMs !== 'number' || !Number.isFinite(expiryMs)) return unknownExpirySeconds;
  return Math.min(maxSeconds, Math.max(1, Math.floor((expiryMs - nowMs) / 1000) + 1));
};

/**
 * Runs the work on an SQS message and, when it fails with Powertools' IdempotencyAlreadyInProgressError (another
 * delivery holds the idempotency record, or held it and died before completing it), makes the message visible
 * again just after that record's in-progress expiry instead of after the queue's whole visibility timeout. The
 * error is then rethrown, so the record is still reported as a batch item failure.
 * ChangeMessageVisibility counts the new timeout from the call, not from the receive (SQS API reference,
 * ChangeMessageVisibility), so the seconds asked for are the seconds left until the expiry.
 * The expiry is the error's `existingRecord.inProgressExpiryTimestamp` (ms since epoch, Powertools' attribute
 * `in_progress_expiration`: the holding invocation's deadline, its INPROGRESS write plus its Lambda's remaining
 * time); when it is unknown, the message waits `unknownExpirySeconds`.
 *
 * @example
 * // In a batch consumer (lib/batch.ts AroundRecord); the role needs sqs:ChangeMessageVisibility on the queue.
 * const aroundRecord: AroundRecord = (record, log, work) =>
 *   retryInProgressSooner({ queueUrl, receiptHandle: record.receiptHandle, onError: (error) => log.warn('visibility unchanged', { error }) }, work);
 */
const retryInProgressSooner = async <T>(options: RetryInProgressOptions, work: () => Promise<T>): Promise<T> => {
  const { queueUrl, receiptHandle, unknownExpirySeconds = 10, maxSeconds = 60, onError } = options;
  try {
    return await work();
  } catch (error) {
    if (isInProgressError(error)) {
      const seconds = secondsUntilRetry(error.existingRecord?.inProgressExpiryTimestamp, Date.now(), unknownExpirySeconds, maxSeconds);
      try {
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
      } catch (visibilityError) {
        onError?.(visibilityError);
      }
    }
    throw error;
  }
};


export { withVisibilityHeartbeat, retryInProgressSooner };

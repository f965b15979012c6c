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

export type { HeartbeatOptions };
export { withVisibilityHeartbeat };

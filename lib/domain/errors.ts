/** A single field of an input that failed validation, named by its path (for example `items[0].quantity`). */
interface FieldError {
  field: string;
  message: string;
}

/**
 * Base class of every orderflow error: `name` is set so logs and DLQ peeks show which rule failed.
 */
class OrderflowError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OrderflowError';
  }
}

/** An order (API body or import line) that breaks the order schema; `fields` names every field at fault. */
class InvalidOrderError extends OrderflowError {
  readonly fields: FieldError[];
  constructor(fields: FieldError[]) {
    super(`Invalid order: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`);
    this.name = 'InvalidOrderError';
    this.fields = fields;
  }
}

/** A queue or stream record whose body is not a well-formed order event; it is retried, then lands in the DLQ. */
class InvalidEventError extends OrderflowError {
  readonly fields: FieldError[];
  constructor(source: string, fields: FieldError[]) {
    super(`Invalid ${source}: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`);
    this.name = 'InvalidEventError';
    this.fields = fields;
  }
}

/** Kinesis kept rejecting some records (throttling, internal errors) after every retry. */
class StreamWriteError extends OrderflowError {
  readonly failedCount: number;
  constructor(streamName: string, failedCount: number, lastErrorCode: string | undefined) {
    super(`${failedCount} record(s) not written to stream ${streamName} after retries (last error: ${lastErrorCode ?? 'unknown'})`);
    this.name = 'StreamWriteError';
    this.failedCount = failedCount;
  }
}

/** SNS PublishBatch kept failing some entries after every retry. */
class PublishError extends OrderflowError {
  constructor(topicArn: string, failed: string[]) {
    super(`${failed.length} event(s) not published to ${topicArn}: ${failed.join(', ')}`);
    this.name = 'PublishError';
  }
}

export type { FieldError };
export { OrderflowError, InvalidOrderError, InvalidEventError, StreamWriteError, PublishError };

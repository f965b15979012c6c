/**
 * Error classes of the emulator layer. Each message names the input at fault.
 */
class EmulatorsError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmulatorsError';
  }
}

/** An option passed to `startEmulators` cannot be honoured. */
class EmulatorsConfigError extends EmulatorsError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmulatorsConfigError';
  }
}

/** An emulator or the edge failed to start (port in use, data directory locked, ...). */
class EmulatorsStartError extends EmulatorsError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmulatorsStartError';
  }
}

/**
 * An AWS-style error answered by a service the edge implements itself (Firehose, S3 bucket
 * configuration). `code` is the AWS error code the SDK turns into an exception class.
 */
class AwsApiError extends EmulatorsError {
  public readonly code: string;
  public readonly statusCode: number;

  public constructor(code: string, message: string, statusCode = 400) {
    super(message);
    this.name = 'AwsApiError';
    this.code = code;
    this.statusCode = statusCode;
  }
}

export { AwsApiError, EmulatorsConfigError, EmulatorsStartError };

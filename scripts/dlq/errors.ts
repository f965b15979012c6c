/** A DLQ command cannot do what was asked; the message says why and what to do. */
class DlqError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DlqError';
  }
}

/** The command line is wrong; the message carries the usage. */
class UsageError extends DlqError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A redrive stopped part way: `moved` messages were moved (sent, then deleted), the rest stayed in the DLQ. */
class RedriveError extends DlqError {
  readonly moved: number;
  constructor(message: string, moved: number, options?: ErrorOptions) {
    super(`${message} (${moved} message(s) moved before it stopped; the others are still in the DLQ)`, options);
    this.name = 'RedriveError';
    this.moved = moved;
  }
}

export { DlqError, RedriveError, UsageError };

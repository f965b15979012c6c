/**
 * SQS refuses a message's `DelaySeconds` outside 0-900 ("Valid values: 0 to 900", SQS API reference, SendMessage
 * and SendMessageBatchRequestEntry) with InvalidParameterValue, `Value <n> for parameter DelaySeconds is invalid.
 * Reason: DelaySeconds must be >= 0 and <= 900.`; in a batch, that entry alone fails (SenderFault true) and the
 * others are sent. fauxqs 2.4.1 checks the range for a queue's DelaySeconds attribute only and hides a message for
 * any per-message delay it is given (an hour, a day). Its SQS router's SendMessage and SendMessageBatch handlers are
 * wrapped here as they are registered, so both protocols (JSON, and query through edge/sqs-query.ts) are checked.
 */

/** The most a message may be delayed: 900 s (SQS API reference, SendMessage DelaySeconds). */
const MAX_DELAY_SECONDS = 900;

type Handler = (body: Record<string, unknown>, store: unknown, request: unknown) => unknown;

interface RouterLike {
  register(action: string, handler: Handler): void;
}

interface BatchEntry {
  Id?: string;
  DelaySeconds?: unknown;
}

interface BatchAnswer {
  Successful?: unknown[];
  Failed?: unknown[];
}

const PATCHED = Symbol.for('local-cloud.sqs-delay-limit');

/** AWS's message for a per-message delay out of range, or undefined when SQS would accept it (or none is given). */
function delayRefusal(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const seconds = Number(value);
  if (Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_DELAY_SECONDS) return undefined;
  return `Value ${String(value)} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= ${MAX_DELAY_SECONDS}.`;
}

async function applySqsDelayLimitPatch(): Promise<string[]> {
  const base = import.meta.resolve('fauxqs');
  const { SqsRouter } = (await import(new URL('./sqs/sqsRouter.js', base).href)) as { SqsRouter: { prototype: RouterLike & Record<symbol, unknown> } };
  const { SqsError } = (await import(new URL('./common/errors.js', base).href)) as { SqsError: new (code: string, message: string) => Error };
  if (SqsRouter.prototype[PATCHED] === true) return [];
  // fauxqs prefixes every legacy query code with `AWS.SimpleQueueService.`; SQS does so only for its own codes
  // (NonExistentQueue...), not for the common InvalidParameterValue, which the SDK then names the error by.
  const invalidParameterValue = (message: string): Error =>
    Object.defineProperty(new SqsError('InvalidParameterValue', message), 'queryErrorHeader', { value: 'InvalidParameterValue;Sender' });
  const register = SqsRouter.prototype.register;
  SqsRouter.prototype.register = function registerWithDelayLimit(this: RouterLike, action: string, handler: Handler): void {
    if (action === 'SendMessage') {
      const sendMessage: Handler = (body, store, request) => {
        const refusal = delayRefusal(body.DelaySeconds);
        if (refusal !== undefined) throw invalidParameterValue(refusal);
        return handler(body, store, request);
      };
      return register.call(this, action, sendMessage);
    }
    if (action === 'SendMessageBatch') {
      const sendMessageBatch: Handler = async (body, store, request) => {
        const entries = Array.isArray(body.Entries) ? (body.Entries as BatchEntry[]) : [];
        const refused = entries.flatMap((entry) => {
          const refusal = delayRefusal(entry.DelaySeconds);
          return refusal === undefined ? [] : [{ Id: entry.Id, SenderFault: true, Code: 'InvalidParameterValue', Message: refusal }];
        });
        if (refused.length === 0) return handler(body, store, request);
        const accepted = entries.filter((entry) => delayRefusal(entry.DelaySeconds) === undefined);
        const answer = (accepted.length === 0 ? { Successful: [], Failed: [] } : await handler({ ...body, Entries: accepted }, store, request)) as BatchAnswer;
        return { ...answer, Successful: answer.Successful ?? [], Failed: [...(answer.Failed ?? []), ...refused] };
      };
      return register.call(this, action, sendMessageBatch);
    }
    return register.call(this, action, handler);
  };
  SqsRouter.prototype[PATCHED] = true;
  return ['fauxqs: a per-message DelaySeconds outside 0-900 is refused (InvalidParameterValue), as SQS refuses it'];
}

export { applySqsDelayLimitPatch };

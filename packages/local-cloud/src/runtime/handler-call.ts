/**
 * One invocation of a Node.js handler as Lambda's Node.js runtime makes it: the context object, async and callback
 * handlers, the error shape of an "Invoke Error". Shared by the functions' worker threads (function-worker.ts) and
 * the in-process runtime (runtime.ts, `functionsThread: false`).
 */

interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace?: string[];
}

/** The context object of the Node.js runtime (aws-lambda's `Context`). */
interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(error?: unknown, result?: unknown): void;
  fail(error: unknown): void;
  succeed(result: unknown): void;
}

type Handler = (event: unknown, context: LambdaContext, callback?: (error?: unknown, result?: unknown) => void) => unknown;

/** What the context needs to know about the function and this invocation. */
interface InvocationFacts {
  functionName: string;
  functionArn: string;
  memorySize: number;
  requestId: string;
  logStreamName: string;
  /** Epoch ms at which the invocation times out. */
  deadline: number;
}

/** `functions/placeOrder.handler` → module path `functions/placeOrder`, export path `handler`. */
function parseHandler(handler: string): { modulePath: string; exportPath: string[] } {
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (dot < 0) throw new Error(`handler ${handler} must be <module>.<export>`);
  return { modulePath: handler.slice(0, dot), exportPath: handler.slice(dot + 1).split('.') };
}

/** The handler function at `exportPath` of a module, or undefined. */
function handlerExport(module: Record<string, unknown>, exportPath: string[]): Handler | undefined {
  let exported: unknown = module;
  for (const key of exportPath) exported = (typeof exported === 'object' && exported !== null) || typeof exported === 'function' ? (exported as Record<string, unknown>)[key] : undefined;
  return typeof exported === 'function' ? (exported as Handler) : undefined;
}

/**
 * Calls the handler with a copy of the event and a Lambda-like context; settles with its result (promise or
 * callback, whichever the handler uses) or its error.
 */
function callHandler(handler: Handler, event: unknown, facts: InvocationFacts): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const callback = (error?: unknown, result?: unknown): void => (error ? reject(error) : resolve(result));
    const context: LambdaContext = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: facts.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: facts.functionArn,
      memoryLimitInMB: String(facts.memorySize),
      awsRequestId: facts.requestId,
      logGroupName: `/aws/lambda/${facts.functionName}`,
      logStreamName: facts.logStreamName,
      getRemainingTimeInMillis: () => Math.max(0, facts.deadline - Date.now()),
      done: callback,
      fail: (error) => reject(error),
      succeed: (result) => resolve(result),
    };
    try {
      const returned = handler(structuredClone(event), context, callback);
      // An async handler settles through its promise; a callback handler (fewer than 3 params otherwise) through the callback.
      if (returned !== undefined || handler.length < 3) Promise.resolve(returned).then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  });
}

/** Lambda returns the JSON serialization of the result (undefined becomes null). */
function serializedResult(payload: unknown): string {
  return payload === undefined ? 'null' : (JSON.stringify(payload) ?? 'null');
}

/** The Node.js runtime's error shape: errorType is the error's name, as in Lambda's "Invoke Error" log line. */
function errorPayload(error: unknown): LambdaErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, stackTrace: error.stack?.split('\n').slice(1).map((l) => l.trim()) };
  }
  return { errorType: typeof error === 'string' ? 'string' : 'Error', errorMessage: typeof error === 'string' ? error : JSON.stringify(error) };
}

export { callHandler, errorPayload, handlerExport, parseHandler, serializedResult };
export type { Handler, LambdaErrorPayload };

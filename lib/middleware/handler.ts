import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { logger, metrics } from '../powertools.ts';

/**
 * The wiring every handler shares: structured logs with the Lambda context (state cleared between invocations),
 * and metrics flushed as EMF at the end of each invocation. Tracing is Lambda's active tracing (serverless.yml
 * `tracing.lambda`): the Powertools tracer would add ~110 KB to every bundle (aws-xray-sdk-core, semver,
 * cls-hooked; esbuild metafile), more than the whole rest of a handler.
 *
 * @example
 * export const handler = withPowertools(async (event: SQSEvent, context) => process(event, context));
 */
const withPowertools = <TEvent, TResult>(fn: (event: TEvent, context: Context) => Promise<TResult>) =>
  middy(fn)
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(logMetrics(metrics));

export { withPowertools };

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
 * `metrics: false` for a function that publishes no metric of its own (getOrder: API Gateway already publishes the
 * API's Count, 4xx, 5xx and Latency, per route with detailed metrics: API Gateway developer guide, "Monitor
 * CloudWatch metrics for HTTP APIs"): Powertools' metrics middleware warns "No application metrics to publish"
 * after every invocation that added none (Metrics.publishStoredMetrics, 2.35.0), so it is not attached there. Every other function
 * adds a metric on every invocation (batch functions: lib/batch.ts addBatchMetrics).
 *
 * @example
 * export const handler = withPowertools(async (event: SQSEvent, context) => process(event, context));
 * export const handler = withPowertools(getOrderHandler, { metrics: false });
 */
const withPowertools = <TEvent, TResult>(fn: (event: TEvent, context: Context) => Promise<TResult>, { metrics: withMetrics = true }: { metrics?: boolean } = {}) => {
  const wired = middy(fn).use(injectLambdaContext(logger, { clearState: true }));
  return withMetrics ? wired.use(logMetrics(metrics)) : wired;
};

export { withPowertools };

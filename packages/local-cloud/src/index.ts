/**
 * The local cloud's public API: the only module an application imports. Everything else under src/ is the
 * package's own (template → provision → emulators → edge → runtime → event sources; see README.md).
 *
 * @example
 * import { startLocalCloud } from 'local-cloud';
 * const cloud = await startLocalCloud({ projectDir: '.', edgePort: 0, apiPort: 0 });
 * await fetch(`${cloud.apiUrl}/orders`, { method: 'POST', body: '{}' });
 * await cloud.stop();
 */
export { LocalCloudError, PackageError, TEMPLATE_FILE, lockPackaging, notEmulatedSummary, packageIfStale, startLocalCloud } from './cloud.ts';
export type { LocalCloud, LocalCloudOptions, LocalResource, RecordFailure } from './cloud.ts';
export type { FailureRecord, FaultInjection, FaultsState } from './edge/control.ts';
export { OBSERVER_AGENT, STATS_PATH } from './edge/stats.ts';
export { hostRefusal, isAllowedHost, originRefusal, sendRefusal } from './edge/guard.ts';
export { TOKEN_FILE, TOKEN_HEADER, TOKEN_VARIABLE, controlHeaders, readLocalToken } from './edge/token.ts';
export type { HostRule, Refusal } from './edge/guard.ts';
export type { EventLoopTime, FunctionStats, LocalStatsSnapshot } from './edge/stats.ts';
export type { IamReport } from './edge/iam.ts';
export { functionCredentials } from './edge/iam-roles.ts';
export { startEmulators } from './emulators/emulators.ts';
export type { Emulators, EmulatorsOptions } from './emulators/emulators.ts';
export type { SqsPoller } from './event-sources/sqs.ts';
export type { KinesisPoller } from './event-sources/kinesis.ts';
export type { RabbitMqPoller } from './event-sources/rabbitmq.ts';
export type { FunctionConfig, InvokeResult, LambdaErrorPayload, LambdaRuntime } from './runtime/runtime.ts';
export { TemplateResolver, loadTemplate } from './template/template.ts';
export type { CfnResource, CfnTemplate } from './template/template.ts';
export { LOCAL_CREDENTIALS } from './util/clients.ts';
export { freePort } from './util/ports.ts';
export { WaitTimeoutError, waitFor } from './util/wait.ts';
export type { WaitForOptions } from './util/wait.ts';
export { runCli } from './cli.ts';
export { customerSub, mintLocalToken } from './auth/issuer.ts';
export type { IssuerInfo, MintOptions } from './auth/issuer.ts';
export type { CliOptions } from './cli.ts';

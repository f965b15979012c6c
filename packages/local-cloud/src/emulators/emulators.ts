/**
 * The emulator layer of the local cloud: fauxqs (SQS, SNS, S3), kinesalite (Kinesis), dynalite
 * (DynamoDB) and the local Firehose behind one edge endpoint, all state under `dataDir`.
 *
 * @example
 * const emulators = await startEmulators({ dataDir: '.local', log: console.log });
 * const sqs = new SQSClient({ endpoint: emulators.endpoint, region: emulators.region, credentials: LOCAL_CREDENTIALS });
 * // ...
 * await emulators.stop();
 */
import { join } from 'node:path';
import { StackRegistry } from '../edge/cloudformation.ts';
import { LocalControl } from '../edge/control.ts';
import { LocalSecretsManager } from '../secrets/secrets-manager.ts';
import { startEdge } from '../edge/edge.ts';
import { serveInProcess } from '../edge/in-process-clients.ts';
import { createLocalToken } from '../edge/token.ts';
import { LocalStats } from '../edge/stats.ts';
import type { Edge } from '../edge/edge.ts';
import { STATE_FOLDERS, claimDataDir, type DataDirClaim } from './data-dir.ts';
import { EmulatorsConfigError, EmulatorsStartError } from '../util/errors.ts';
import { closeUpstream, createUpstream, exchange, postJson } from '../edge/proxy.ts';
import type { BufferedResponse, Upstream } from '../edge/proxy.ts';
import { createS3Edge } from '../edge/s3-edge.ts';
import { createS3Notifier } from '../fidelity/s3-notifier.ts';
import type { S3Notifier } from '../fidelity/s3-notifier.ts';
import { createSnsFifoDedup } from '../fidelity/sns-fifo-dedup.ts';
import { deadLetterSources } from '../fidelity/fauxqs-dlq-origin.ts';
import type { InspectedQueue } from '../fidelity/fauxqs-dlq-origin.ts';
import { createSqsMessageMoves, fauxqsSqsCall } from '../edge/sqs-message-moves.ts';
import type { SqsMessageMoves } from '../edge/sqs-message-moves.ts';
import { dynaliteCall } from '../edge/dynamodb-call.ts';
import { createDynamoDbTransactions } from '../edge/dynamodb-transactions.ts';
import { createDynamoDbTtl } from '../edge/dynamodb-ttl.ts';
import type { DynamoDbTtl } from '../edge/dynamodb-ttl.ts';
import type { SnsFifoDedup } from '../fidelity/sns-fifo-dedup.ts';
import { createSnsPush, type SnsPush } from '../fidelity/sns-push.ts';
import { startDynalite, startFauxqsEmulator, startKinesalite } from './servers.ts';
import type { RunningEmulator } from './servers.ts';
import { startEmulatorThread, type EmulatorName, type EmulatorThread, type WorkerSettings } from './emulator-thread.ts';
import { createFirehoseService } from '../firehose/service.ts';
import type { FirehoseService } from '../firehose/service.ts';
import type { InvokeFunction } from '../firehose/processing.ts';
import { createGlueCatalog } from '../glue/catalog.ts';
import { S3_PRINCIPAL, SNS_PRINCIPAL, type IamGuard } from '../edge/iam.ts';
import { applySnsDeliveryPolicyPatch, registerDeliveryCheck } from '../fidelity/sns-delivery-policy.ts';

interface EmulatorsOptions {
  /** State root, e.g. '.local'; each emulator persists under its own subfolder so a restart (even after kill -9) loses nothing accepted. */
  dataDir: string;
  /** Default 4566; 0 = pick a free port. */
  edgePort?: number;
  /** Default 'us-east-1'. */
  region?: string;
  /** Default '000000000000' (the only account fauxqs knows). */
  accountId?: string;
  log?: (line: string) => void;
  /** Start-up details about the emulators themselves (patches applied, the edge's address); default `log`. */
  detail?: (line: string) => void;
  /** The local cloud's switches, counters and stacks, served by the edge (fresh ones when not given). */
  control?: LocalControl;
  stats?: LocalStats;
  stacks?: StackRegistry;
  /** Evaluates the functions' requests against their roles at the edge (edge/iam.ts); none: every call is allowed. */
  iam?: IamGuard;
  /**
   * AWS SDK clients in this process reach the edge without a socket (default true; edge/in-process-clients.ts).
   * Clients in other processes (the AWS CLI, a test runner's own process) use the edge's port as always.
   */
  inProcessClients?: boolean;
  /**
   * fauxqs, kinesalite and dynalite run in a worker thread of their own, beside the edge and the functions
   * (emulators/emulator-thread.ts; default true); false: on this thread.
   */
  emulatorsThread?: boolean;
  /** Remove the local cloud's subfolders of dataDir first, once it is locked (data-dir.ts). */
  fresh?: boolean;
  /** dataDir as the caller already claimed it (claimDataDir): not claimed again, not released by stop(). */
  claimed?: DataDirClaim;
}

interface Emulators {
  /** 'http://127.0.0.1:<edgePort>': the one URL every AWS SDK client / `aws --endpoint-url` uses. */
  endpoint: string;
  region: string;
  accountId: string;
  /** What the edge serves under `/_local/` and to CloudFormation: the instances given in the options, or its own. */
  control: LocalControl;
  stats: LocalStats;
  stacks: StackRegistry;
  /** This run's token of `/_local/*` (header `x-local-token`), also in `tokenFile` (mode 0600). */
  token: string;
  tokenFile: string;
  /**
   * Hands the SNS → SQS deliveries the queue policies refuse to fauxqs's thread, once `iam.load` has decided them
   * (with the emulators on this thread, fauxqs asks the IamGuard itself).
   */
  syncDeliveryPolicy?(): Promise<void>;
  /** Hands the functions' runtime to the local Firehose, for data transformation with Lambda (firehose/processing.ts). */
  attachFunctions?(invoke: InvokeFunction): void;
  /** SNS deliveries to HTTP/S endpoints and Lambda functions (fidelity/sns-push.ts): attach the runtime to it. */
  snsPush?: SnsPush;
  /** Closes everything, flushes state; idempotent. */
  stop(): Promise<void>;
}

/** fauxqs hard-codes this account in every ARN and queue URL. */
const FAUXQS_ACCOUNT_ID = '000000000000';

function validateOptions(options: EmulatorsOptions): Required<Pick<EmulatorsOptions, 'dataDir' | 'edgePort' | 'region' | 'accountId'>> {
  const edgePort = options.edgePort ?? 4566;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? FAUXQS_ACCOUNT_ID;
  if (options.dataDir === '') throw new EmulatorsConfigError('dataDir is required');
  if (!Number.isInteger(edgePort) || edgePort < 0 || edgePort > 65_535) {
    throw new EmulatorsConfigError(`edgePort must be an integer from 0 to 65535, got ${edgePort}`);
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new EmulatorsConfigError(`region ${JSON.stringify(region)} is not an AWS region name`);
  if (accountId !== FAUXQS_ACCOUNT_ID) {
    throw new EmulatorsConfigError(`accountId must be ${FAUXQS_ACCOUNT_ID}: fauxqs writes that account into every SQS/SNS ARN and queue URL`);
  }
  return { dataDir: options.dataDir, edgePort, region, accountId };
}

/** An emulator as the edge reaches it: its port, and in memory its request listener or a buffered exchange. */
type ReachableEmulator = RunningEmulator & { call?: Upstream['call'] };

interface StartedEmulators {
  fauxqs: ReachableEmulator;
  kinesalite: ReachableEmulator;
  dynalite: ReachableEmulator;
  deadLetterSourcesOf: (queueName: string) => Map<string, string> | Promise<Map<string, string>>;
  /** The emulators' thread, when they run in one. */
  thread?: EmulatorThread;
}

/** The emulators on this thread; each one started goes into `started` (stopped by stopAll). */
async function onThisThread(settings: WorkerSettings, log: (line: string) => void, started: RunningEmulator[]): Promise<StartedEmulators> {
  const [fauxqs, kinesalite, dynalite] = await Promise.all([
    startFauxqsEmulator(settings.paths.fauxqs, settings.region, log).then((emulator) => (started.push(emulator), emulator)),
    startKinesalite(settings.paths.kinesalite, settings.region, settings.accountId).then((emulator) => (started.push(emulator), emulator)),
    startDynalite(settings.paths.dynalite, settings.region, settings.accountId).then((emulator) => (started.push(emulator), emulator)),
  ]);
  const inspect = (name: string): InspectedQueue | undefined => fauxqs.server.inspectQueue(name) as InspectedQueue | undefined;
  return { fauxqs, kinesalite, dynalite, deadLetterSourcesOf: (name) => deadLetterSources(inspect, name) };
}

/** The emulators in their own thread (emulator-thread.ts); the thread goes into `started`. */
async function inThread(
  settings: WorkerSettings,
  log: (line: string) => void,
  started: RunningEmulator[],
  iam?: IamGuard,
): Promise<StartedEmulators> {
  // A refused delivery is dropped (or, under warn, only reported) in fauxqs's thread; the IamGuard logs and keeps it.
  const thread = await startEmulatorThread({ ...settings, checkDeliveries: iam !== undefined }, log, (topicArn, queueArn) => iam?.allowsDelivery(SNS_PRINCIPAL, topicArn, queueArn));
  started.push({ name: 'emulators thread', port: 0, stop: () => thread.stop() });
  const reach = (name: EmulatorName): ReachableEmulator => ({
    name,
    port: thread.ports[name],
    call: thread.call(name),
    dispatch: thread.listener(name),
    stop: () => Promise.resolve(),
  });
  return { fauxqs: reach('fauxqs'), kinesalite: reach('kinesalite'), dynalite: reach('dynalite'), deadLetterSourcesOf: (name) => thread.deadLetterSources(name), thread };
}

/**
 * Starts every emulator and the edge; resolves once all of them answer.
 * @throws EmulatorsConfigError for an option it cannot honour
 * @throws EmulatorsStartError when a port or the data directory is taken
 */
async function startEmulators(options: EmulatorsOptions): Promise<Emulators> {
  const { dataDir, edgePort, region, accountId } = validateOptions(options);
  const log = options.log ?? ((): void => undefined);
  const detail = options.detail ?? log;
  // The lock before anything touches the directory; with fresh, only then the wipe (data-dir.ts).
  const claim = options.claimed ?? claimDataDir(dataDir, { fresh: options.fresh === true });
  const unlock = options.claimed === undefined ? claim.release : (): void => undefined;
  const state = (folder: keyof typeof STATE_FOLDERS): string => join(dataDir, STATE_FOLDERS[folder]);
  const control = options.control ?? new LocalControl();
  const stats = options.stats ?? new LocalStats();
  const stacks = options.stacks ?? new StackRegistry();
  // A new token each run, written only once the directory is ours (locked).
  let controlToken: { token: string; file: string };
  try {
    controlToken = createLocalToken(dataDir);
  } catch (error) {
    unlock();
    throw error;
  }

  const started: RunningEmulator[] = [];
  const upstreams: Upstream[] = [];
  let notifier: S3Notifier | undefined;
  let snsFifo: SnsFifoDedup | undefined;
  let snsPush: SnsPush | undefined;
  let firehose: FirehoseService | undefined;
  let sqsDeadLetters: SqsMessageMoves | undefined;
  let dynamodbTtl: DynamoDbTtl | undefined;
  let edge: Edge | undefined;
  let unserve: (() => void) | undefined;
  let unregisterDeliveryCheck: (() => void) | undefined;
  let unwatchThread: (() => void) | undefined;
  let syncDeliveryPolicy: (() => Promise<void>) | undefined;

  async function stopAll(): Promise<void> {
    unserve?.();
    unregisterDeliveryCheck?.();
    unwatchThread?.();
    await firehose?.stop();
    await sqsDeadLetters?.close();
    await dynamodbTtl?.close();
    await edge?.close();
    snsFifo?.close();
    snsPush?.close();
    notifier?.close();
    upstreams.forEach(closeUpstream);
    const results = await Promise.allSettled(started.map((emulator) => emulator.stop()));
    unlock();
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw new EmulatorsStartError('an emulator failed to stop cleanly', { cause: failure.reason });
  }

  try {
    const { fauxqs, kinesalite, dynalite, deadLetterSourcesOf, thread } = await (options.emulatorsThread !== false ? inThread : onThisThread)(
      { paths: { fauxqs: state('fauxqs'), kinesalite: state('kinesalite'), dynalite: state('dynalite') }, region, accountId },
      detail,
      started,
      options.iam,
    );
    if (thread !== undefined) unwatchThread = stats.watchEventLoop('emulators', () => thread.eventLoopUtilization());
    const guard = options.iam;
    if (thread !== undefined && guard !== undefined) {
      syncDeliveryPolicy = () => thread.setDeliveryRefusals(guard.refusedDeliveries(SNS_PRINCIPAL), guard.mode === 'enforce');
    } else if (options.iam !== undefined) {
      // SNS → SQS deliveries only where the queue policy allows them (fidelity/sns-delivery-policy.ts).
      for (const patch of await applySnsDeliveryPolicyPatch()) detail(`[emulators] patched ${patch}`);
      const onThread = options.iam;
      unregisterDeliveryCheck = registerDeliveryCheck(join(state('fauxqs'), 'fauxqs.db'), (topicArn, queueArn) => onThread.allowsDelivery(SNS_PRINCIPAL, topicArn, queueArn));
    }
    // In memory: the edge calls each emulator without a loopback hop; the ports stay for the S3 notifier (fauxqs)
    // and Firehose's Kinesis source (kinesalite).
    const fauxqsUpstream = createUpstream('fauxqs', '127.0.0.1', fauxqs.port, fauxqs);
    const kinesisUpstream = createUpstream('kinesalite', '127.0.0.1', kinesalite.port, kinesalite);
    const dynamodbUpstream = createUpstream('dynalite', '127.0.0.1', dynalite.port, dynalite);
    upstreams.push(fauxqsUpstream, kinesisUpstream, dynamodbUpstream);
    const fauxqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
    const kinesisEndpoint = `http://127.0.0.1:${kinesalite.port}`;
    const iam = options.iam;
    const s3Notifier = createS3Notifier({
      fauxqsEndpoint,
      region,
      log,
      ...(iam === undefined ? {} : { allowsDelivery: (bucketArn: string, queueArn: string) => iam.allowsDelivery(S3_PRINCIPAL, bucketArn, queueArn) }),
    });
    notifier = s3Notifier;
    // The Glue Data Catalog: served at the edge (the template's databases and tables), read by Firehose's conversion.
    const glue = createGlueCatalog({ directory: state('glue'), accountId });
    const firehoseService = createFirehoseService({ directory: state('firehose'), region, accountId, log, catalog: glue });
    firehose = firehoseService;
    // SNS FIFO deduplication ids, kept on disk so a restart within the 5-minute interval still deduplicates.
    snsFifo = createSnsFifoDedup({ file: join(state('edge'), 'sns-fifo-dedup.jsonl') });
    // SNS to HTTP/S endpoints and Lambda functions, which fauxqs does not deliver (fidelity/sns-push.ts).
    const fauxqsSns = async (params: URLSearchParams): Promise<BufferedResponse> => {
      const body = Buffer.from(params.toString());
      return exchange(fauxqsUpstream, { method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }, body });
    };
    const fauxqsSqs = async (operation: string, input: Record<string, unknown>): Promise<{ statusCode: number; body: Record<string, unknown> }> =>
      postJson(fauxqsUpstream, `AmazonSQS.${operation}`, input);
    snsPush = createSnsPush({
      dataDir: state('edge'),
      region,
      accountId,
      edgeUrl: () => edge?.endpoint ?? '',
      snsQuery: fauxqsSns,
      sqsCall: fauxqsSqs,
      log,
      ...(iam === undefined ? {} : { allowsDelivery: (topicArn: string, targetArn: string) => iam.allowsDelivery(SNS_PRINCIPAL, topicArn, targetArn) }),
    });
    // SNS → Firehose (`firehose` subscriptions): PutRecord as the subscription's role, which the IAM guard checks.
    snsPush.attachFirehose({
      putRecord: async (name, data) => {
        await firehoseService.handle('PutRecord', { DeliveryStreamName: name, Record: { Data: data.toString('base64') } });
      },
      ...(iam === undefined ? {} : { authorizeRole: (topicArn: string, streamArn: string, roleArn: string) => iam.serviceRoleRefusal(SNS_PRINCIPAL, topicArn, streamArn, roleArn, ['firehose:PutRecord']) }),
    });
    const dynamodb = dynaliteCall(dynamodbUpstream);
    // Expired items are looked for every second (TTL at the edge: dynalite has none).
    dynamodbTtl = createDynamoDbTtl({ dynamodb, file: join(state('edge'), 'dynamodb-ttl.json'), log });
    // Secret values stay in the data directory (owner-only), so a restart keeps them.
    const secrets = new LocalSecretsManager(join(state('edge'), 'secrets.json'), { partition: 'aws', region, accountId });
    sqsDeadLetters = createSqsMessageMoves({ sqs: fauxqsSqsCall(fauxqsUpstream), deadLetterSources: deadLetterSourcesOf });

    edge = await startEdge({
      port: edgePort,
      upstreams: { fauxqs: fauxqsUpstream, kinesis: kinesisUpstream, dynamodb: dynamodbUpstream },
      firehose: (operation, input) => firehoseService.handle(operation, input),
      glue: (operation, input) => glue.handle(operation, input),
      secretsManager: (operation, input) => secrets.handle(operation, input),
      s3: (edgeHost) =>
        createS3Edge({
          fauxqs: fauxqsUpstream,
          stateDirectory: join(state('edge'), 'buckets'),
          region,
          accountId,
          notifier: s3Notifier,
          log,
          upstreamHost: edgeHost,
        }),
      health: () => ({
        region,
        accountId,
        services: { sqs: 'running', sns: 'running', s3: 'running', kinesis: 'running', dynamodb: 'running', firehose: 'running', glue: 'running', secretsmanager: 'running' },
      }),
      log,
      snsFifo,
      snsPush,
      sqsDeadLetters,
      dynamodbExtensions: [createDynamoDbTransactions({ dynamodb }), dynamodbTtl],
      control,
      stats,
      stacks,
      controlToken,
      ...(options.iam === undefined ? {} : { iam: options.iam }),
    });
    if (options.inProcessClients !== false) {
      // The edge, and the emulators the local cloud's own parts call directly (Firehose reads kinesalite, the S3
      // notifier sends to fauxqs).
      const served = [serveInProcess(edge.port, edge.dispatch), ...[fauxqs, kinesalite, dynalite].flatMap((emulator) => (emulator.dispatch ? [serveInProcess(emulator.port, emulator.dispatch)] : []))];
      unserve = () => served.forEach((unregister) => unregister());
    }
    firehoseService.start({ s3: edge.endpoint, kinesis: kinesisEndpoint });
    detail(`[emulators] edge ${edge.endpoint} (SQS, SNS, S3, Kinesis, DynamoDB, Firehose, Glue Data Catalog, Secrets Manager; state in ${dataDir})`);
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint: edge.endpoint,
    region,
    accountId,
    control,
    stats,
    stacks,
    token: controlToken.token,
    tokenFile: controlToken.file,
    syncDeliveryPolicy: () => syncDeliveryPolicy?.() ?? Promise.resolve(),
    attachFunctions: (invoke) => firehose?.attachFunctions(invoke),
    snsPush,
    stop: () => {
      stopping ??= stopAll().then(() => log('[emulators] stopped'));
      return stopping;
    },
  };
}

export { startEmulators };
export type { Emulators, EmulatorsOptions };

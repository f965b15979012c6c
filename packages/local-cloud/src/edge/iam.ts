/**
 * IAM at the edge: every request signed with a function's credentials (iam-roles.ts) is evaluated against that
 * function's role, as compiled in the template, with a maintained policy evaluator (`@cloud-copilot/iam-simulate`),
 * before the edge routes it: the functions' own, and their event source mappings' (the pollers sign with the
 * function's credentials, as Lambda polls with the execution role). Requests signed with any other key (the CLI,
 * tests, the dashboard, the local cloud's provisioner and its lookups) keep an administrator identity.
 *
 * Modes: `enforce` answers a denied request as its service does on AWS (JSON `AccessDeniedException`, SNS's
 * `AuthorizationError`, S3's 403 `AccessDenied`, SQS query's `AccessDenied`) with AWS's message; `warn` lets it
 * through; both log one `[iam]` line per denial and keep it in `denials()`. `off` evaluates nothing.
 *
 * Evaluated: identity-based policies (inline, `AWS::IAM::Policy`, the template's own `AWS::IAM::ManagedPolicy`),
 * actions, resources, the condition keys listed in `globalContext` and those iam-requests.ts reads from the request.
 * Not evaluated: managed policies from outside the template, SCPs, RCPs, session policies, permission boundaries,
 * KMS grants, cross-account trust, resource policies on a function's calls (the caller and the resource are in one
 * account, where an identity policy's Allow suffices: IAM user guide, "Policy evaluation logic", same-account
 * requests). Resource policies do decide the services' deliveries: `allowsDelivery`, called from fauxqs's SNS → SQS
 * fan-out (fidelity/sns-delivery-policy.ts), S3's notifications (fidelity/s3-notifier.ts, their test events at
 * start-up included), SNS → Lambda and SNS's moves to a subscription's DLQ (fidelity/sns-push.ts).
 *
 * @example
 * const iam = new IamGuard({ mode: 'enforce', log });
 * // edge: dispatch → iam.screen(req, res, (allowed) => route(allowed, res))
 * iam.load(iamModelFromTemplate(resolver, functions));
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { classifyRequest, s3Location } from './edge.ts';
import { authorizationsOf, type Authorization, type ClassifiedRequest } from './iam-requests.ts';
import { decisionKey } from './iam-decision-key.ts';
import type { FunctionIdentity, IamModel, RoleModel } from './iam-roles.ts';
import { readBody } from './bodies.ts';
import { s3OperationOf } from './stats.ts';
import { escapeXml, s3ErrorXml } from '../util/xml.ts';

type IamMode = 'enforce' | 'warn' | 'off';

const IAM_MODES: readonly IamMode[] = ['enforce', 'warn', 'off'];

interface IamDenial {
  at: string;
  functionName: string;
  roleName: string;
  action: string;
  resource: string;
  /** `implicit`: no statement allows it; `explicit`: a Deny statement matches. */
  kind: 'implicit' | 'explicit';
  /** What AWS would answer. */
  message: string;
  /** Whether the request was refused (`enforce`) or let through (`warn`). */
  refused: boolean;
}

/** A service-to-service delivery a queue, topic or function policy refuses (SNS → SQS, S3 → SQS, S3 → SNS, SNS → Lambda, SNS → a subscription's DLQ). */
interface DeliveryDenial {
  at: string;
  /** `sns.amazonaws.com` or `s3.amazonaws.com`. */
  service: string;
  /** The topic's or bucket's ARN (the delivery's `aws:SourceArn`). */
  sourceArn: string;
  /** The destination: the queue's ARN, the topic's for S3 → SNS, the function's for SNS → Lambda, the delivery stream's for SNS → Firehose (and its name stays). */
  queueArn: string;
  /** Why the queue (or topic) policy refuses it. */
  reason: string;
  /** Whether it was dropped (`enforce`) or delivered anyway (`warn`). */
  dropped: boolean;
}

/** An event source mapping as its function's role must allow it (checkMappings). */
interface MappingAccess {
  logicalId: string;
  functionName: string;
  sourceArn: string;
  onFailureDestination?: string;
}

/** What `GET /_local/iam` answers. */
interface IamReport {
  mode: IamMode;
  evaluated: number;
  /** Of those decisions, how many the evaluator made (the rest came from the decision cache). */
  simulated: number;
  denials: IamDenial[];
  deliveryDenials: DeliveryDenial[];
  /** `<mapping logical id>: <Lambda's refusal>`, under `--iam warn` (under `enforce` the cloud does not start). */
  mappingRefusals: string[];
}

interface IamGuardOptions {
  mode: IamMode;
  log: (line: string) => void;
}

type Decision = { allowed: true } | { allowed: false; kind: 'implicit' | 'explicit' };

/** The service principals of SNS deliveries and S3 event notifications. */
const SNS_PRINCIPAL = 'sns.amazonaws.com';
const S3_PRINCIPAL = 's3.amazonaws.com';

const deliveryKey = (service: string, sourceArn: string, queueArn: string): string => `${service}\n${sourceArn}\n${queueArn}`;

/** How often one repeated denial is logged (this local cloud's choice: a poller refused every second logs once a minute). */
const REPEAT_LOG_MS = 60_000;
/** Denials kept for `denials()` (the oldest go first). */
const KEPT_DENIALS = 200;
/** Decisions cached per role and what of a request can change them (iam-decision-key.ts); evaluating one took 1.4 ms (mean of 200 runSimulation calls, one role, this 2-core machine, 2026-12-03). */
const CACHE_LIMIT = 10_000;

/** The access key id of a SigV4 request: `Credential=AKID/date/region/service/aws4_request`, header or presigned query. */
function accessKeyIdOf(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization ?? '';
  const credential = /Credential=([^/,\s]+)/.exec(authorization)?.[1];
  if (credential !== undefined) return credential;
  const query = new URL(req.url ?? '/', 'http://edge').searchParams.get('X-Amz-Credential');
  return query?.split('/')[0] ?? undefined;
}

/** The same request with its buffered body readable again, for the edge's handlers. */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = Readable.from([body], { objectMode: false }) as unknown as IncomingMessage;
  return Object.assign(copy, { headers: req.headers, rawHeaders: req.rawHeaders, method: req.method, url: req.url, httpVersion: req.httpVersion, socket: req.socket });
}

/** AWS's AccessDenied message (the form IAM's documentation shows under "Troubleshoot access denied error messages"). */
function deniedMessage(identity: FunctionIdentity, authorization: Authorization, kind: 'implicit' | 'explicit'): string {
  const { action, resource } = authorization;
  const because = kind === 'explicit' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  return `User: ${identity.principalArn} is not authorized to perform: ${action} on resource: ${resource} ${because}`;
}

function sendDenied(res: ServerResponse, request: ClassifiedRequest, method: string, message: string): void {
  let statusCode = 400;
  let headers: Record<string, string>;
  let body: string;
  if (request.protocol === 'json') {
    // SQS keeps its query protocol's code and status in JSON (`x-amzn-query-error`: the SDKs name the error AccessDenied).
    if (request.service === 'sqs') statusCode = 403;
    const contentType = request.service === 'dynamodb' || request.service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
    body = JSON.stringify({ __type: 'AccessDeniedException', message });
    headers = { 'content-type': contentType, 'x-amzn-errortype': 'AccessDeniedException', ...(request.service === 'sqs' ? { 'x-amzn-query-error': 'AccessDenied;Sender' } : {}) };
  } else if (request.protocol === 's3') {
    statusCode = 403;
    body = method === 'HEAD' ? '' : s3ErrorXml('AccessDenied', message);
    headers = { 'content-type': 'application/xml' };
  } else {
    statusCode = 403;
    const code = request.service === 'sns' ? 'AuthorizationError' : 'AccessDenied';
    body = `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>local</RequestId></ErrorResponse>`;
    headers = { 'content-type': 'text/xml' };
  }
  const buffer = Buffer.from(body);
  res.writeHead(statusCode, { ...headers, 'content-length': String(buffer.length) });
  res.end(buffer);
}

class IamGuard {
  readonly mode: IamMode;
  private readonly log: (line: string) => void;
  private model?: IamModel;
  private readonly cache = new Map<string, Decision>();
  private readonly kept: IamDenial[] = [];
  private readonly warned = new Set<string>();
  /** When each denial (function, action, resource, verdict) was last logged. */
  private readonly loggedAt = new Map<string, number>();
  private screened = 0;
  private simulated = 0;
  /** Queue policy decisions for every topic and queue of the template, by `service topic queue` (prepareDeliveries). */
  private readonly deliveryReasons = new Map<string, string | undefined>();
  /** Service-role decisions (serviceRoleRefusal) by `service source target role actions`, until the next load. */
  private readonly serviceRoleReasons = new Map<string, string | undefined>();
  private readonly keptDeliveries: DeliveryDenial[] = [];
  private mappingRefusals: string[] = [];

  constructor(options: IamGuardOptions) {
    this.mode = options.mode;
    this.log = options.log;
  }

  /**
   * The functions, their roles and the queue policies (once the template is resolved); requests before it pass
   * unevaluated. Deliveries are decided here, ahead, for every topic and queue of the template: fauxqs delivers
   * inside a synchronous call, where the evaluator (asynchronous) cannot run.
   */
  async load(model: IamModel): Promise<void> {
    this.model = model;
    this.cache.clear();
    this.deliveryReasons.clear();
    this.serviceRoleReasons.clear();
    if (this.mode === 'off') return;
    const notes = new Set<string>();
    for (const identity of model.identities.values()) for (const note of identity.role.notEvaluated) notes.add(`${identity.role.roleName}: ${note}`);
    for (const note of notes) this.log(`[iam] not evaluated: ${note}; what only it would allow is denied locally`);
    const sources = [...model.topics.map((arn) => [SNS_PRINCIPAL, arn] as const), ...model.buckets.map((arn) => [S3_PRINCIPAL, arn] as const)];
    for (const [queueArn, policy] of model.queuePolicies) {
      for (const [service, sourceArn] of sources) this.deliveryReasons.set(deliveryKey(service, sourceArn, queueArn), await this.deliveryRefusal(service, sourceArn, queueArn, policy));
    }
    // S3 → SNS: the topic policy must let s3.amazonaws.com publish with the bucket as aws:SourceArn (S3 user guide,
    // "Granting permissions to publish event notification messages to a destination").
    for (const [topicArn, policy] of model.topicPolicies) {
      for (const bucketArn of model.buckets) this.deliveryReasons.set(deliveryKey(S3_PRINCIPAL, bucketArn, topicArn), await this.deliveryRefusal(S3_PRINCIPAL, bucketArn, topicArn, policy));
    }
    // SNS → Lambda: the function's policy (its AWS::Lambda::Permission resources) must let sns.amazonaws.com invoke it
    // with the topic as aws:SourceArn (SNS developer guide, "Fanout to Lambda functions"; Lambda developer guide,
    // "Invoking Lambda functions with Amazon SNS notifications").
    for (const [functionArn, policy] of model.functionPolicies) {
      for (const topicArn of model.topics) this.deliveryReasons.set(deliveryKey(SNS_PRINCIPAL, topicArn, functionArn), await this.deliveryRefusal(SNS_PRINCIPAL, topicArn, functionArn, policy));
    }
  }

  /**
   * Whether `service` may deliver from `sourceArn` to the queue: its policy must allow the service principal
   * `sqs:SendMessage` (with the delivery's `aws:SourceArn` and `aws:SourceAccount`); without a policy, nothing is
   * delivered (SNS developer guide, "Fanout to Amazon SQS queues": the queue policy must allow the topic). The same
   * for S3 → SNS with `targetArn` a topic's ARN: its topic policy must allow `sns:Publish`; for SNS → Lambda with a
   * function's ARN: its policy (`AWS::Lambda::Permission`) must allow `lambda:InvokeFunction`. A topic, queue or
   * function the template does not define is not checked (its policy is not known here).
   */
  allowsDelivery(service: string, sourceArn: string, targetArn: string): boolean {
    if (this.mode === 'off') return true;
    // A function's subscription may name a version or an alias: its policy is the function's.
    const queueArn = targetArn.split(':')[2] === 'lambda' ? targetArn.split(':').slice(0, 7).join(':') : targetArn;
    const key = deliveryKey(service, sourceArn, queueArn);
    if (!this.deliveryReasons.has(key)) return true;
    const reason = this.deliveryReasons.get(key);
    if (reason === undefined) return true;
    const dropped = this.mode === 'enforce';
    this.keptDeliveries.push({ at: new Date().toISOString(), service, sourceArn, queueArn, reason, dropped });
    if (this.keptDeliveries.length > KEPT_DENIALS) this.keptDeliveries.shift();
    this.log(`[iam] ${service} delivery from ${sourceArn} to ${queueArn} ${dropped ? 'dropped' : 'would be dropped on AWS (--iam warn: delivered)'}: ${reason}`);
    return !dropped;
  }

  /**
   * The deliveries from `service` that a queue policy refuses, as [source ARN, queue ARN] pairs, decided by `load`:
   * for an emulator in another thread, which checks its deliveries against them (emulators/emulator-thread.ts).
   */
  refusedDeliveries(service: string): Array<[string, string]> {
    if (this.mode === 'off') return [];
    const prefix = `${service}\n`;
    const refused: Array<[string, string]> = [];
    for (const [key, reason] of this.deliveryReasons) {
      if (reason === undefined || !key.startsWith(prefix)) continue;
      const [sourceArn = '', queueArn = ''] = key.slice(prefix.length).split('\n');
      refused.push([sourceArn, queueArn]);
    }
    return refused;
  }

  /**
   * Each mapping against its function's role (mappingRefusal). Under `enforce` a refusal throws, as CloudFormation
   * fails to create the mapping and rolls the stack back; under `warn` it is logged and kept for `report`.
   */
  async checkMappings(mappings: MappingAccess[]): Promise<void> {
    const refusals: string[] = [];
    for (const mapping of mappings) {
      const refusal = await this.mappingRefusal(mapping.functionName, mapping.sourceArn, mapping.onFailureDestination);
      if (refusal !== undefined) refusals.push(`${mapping.logicalId}: ${refusal}`);
    }
    this.mappingRefusals = refusals;
    if (refusals.length === 0) return;
    if (this.mode === 'enforce') {
      throw new Error(
        `${refusals.length} event source mapping(s) would fail to create on AWS (InvalidParameterValueException); grant the function's role what is named, or start with --iam warn:\n  ${refusals.join('\n  ')}`,
      );
    }
    for (const refusal of refusals) this.log(`[iam] ${refusal} (--iam warn: the mapping runs; on AWS it would not be created)`);
  }

  /** What IAM refused (or, under `warn`, would have) since start: `GET /_local/iam`, `npm run iam`. */
  report(): IamReport {
    return { mode: this.mode, evaluated: this.screened, simulated: this.simulated, denials: this.denials(), deliveryDenials: this.deliveryDenials(), mappingRefusals: [...this.mappingRefusals] };
  }

  /**
   * What CreateEventSourceMapping answers (InvalidParameterValueException) when the function's role lacks what the
   * mapping's poller needs on its source, or on its on-failure destination; undefined when the role allows it all.
   * Once started, the pollers' requests are evaluated too (they carry the function's credentials): a role that
   * loses a permission shows AccessDenied in the poller's path, as a created mapping on AWS then fails. Checked: SQS `ReceiveMessage`, `DeleteMessage`, `GetQueueAttributes` (Lambda developer
   * guide, SQS execution role permissions); Kinesis `GetRecords`, `GetShardIterator`, `DescribeStream`, the three
   * that Lambda's "Cannot access stream" refusal names (the guide also lists `DescribeStreamSummary`, `ListShards`
   * and `SubscribeToShard`, which mappings are created without: the Serverless Framework's default role lacks
   * `ListShards`); an SQS on-failure destination `SendMessage`, an SNS one `Publish`.
   */
  async mappingRefusal(functionName: string, sourceArn: string, onFailureDestination?: string): Promise<string | undefined> {
    const identity = this.mode === 'off' ? undefined : [...(this.model?.identities.values() ?? [])].find((fn) => fn.functionName === functionName);
    if (identity === undefined) return undefined;
    const missing = async (actions: string[], resource: string): Promise<string[]> => {
      const denied: string[] = [];
      for (const action of actions) if (!(await this.decide(identity, { action, resource })).allowed) denied.push(action.split(':')[1] as string);
      return denied;
    };
    const service = sourceArn.split(':')[2];
    if (service === 'sqs') {
      const [first] = await missing(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], sourceArn);
      if (first !== undefined) return `The provided execution role does not have permissions to call ${first} on SQS`;
    } else if (service === 'kinesis') {
      const denied = await missing(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:DescribeStream'], sourceArn);
      if (denied.length > 0) return `Cannot access stream ${sourceArn}. Please ensure the role can perform the GetRecords, GetShardIterator, and DescribeStream Actions on your stream in IAM. (denied: ${denied.join(', ')})`;
    }
    const destinationService = onFailureDestination?.split(':')[2];
    if (onFailureDestination !== undefined && (destinationService === 'sqs' || destinationService === 'sns')) {
      const action = destinationService === 'sqs' ? 'sqs:SendMessage' : 'sns:Publish';
      const [first] = await missing([action], onFailureDestination);
      if (first !== undefined) return `The provided execution role does not have permissions to call ${first} on ${destinationService.toUpperCase()} (on-failure destination ${onFailureDestination})`;
    }
    return undefined;
  }

  /**
   * Whether `service` may deliver from `sourceArn` to `targetArn` through the role it is handed (an SNS firehose
   * subscription's SubscriptionRoleArn): the role's trust policy must let the service principal `sts:AssumeRole`, and
   * its policies allow each of `actions` on the target. Returns the refusal (kept in `deliveryDenials`, logged) under
   * `enforce`, undefined when allowed, under `warn` (logged) and for a role the template does not define (its
   * policies are not known here).
   *
   * @example
   * await iam.serviceRoleRefusal(SNS_PRINCIPAL, topicArn, streamArn, roleArn, ['firehose:PutRecord']);
   */
  async serviceRoleRefusal(service: string, sourceArn: string, targetArn: string, roleArn: string, actions: string[]): Promise<string | undefined> {
    const role = this.mode === 'off' ? undefined : this.model?.roles?.get(roleArn);
    if (role === undefined) return undefined;
    // Decided once per source, target, role and actions until the next load: every archived message asks again.
    const key = `${deliveryKey(service, sourceArn, targetArn)}\n${roleArn}\n${actions.join(',')}`;
    if (!this.serviceRoleReasons.has(key)) this.serviceRoleReasons.set(key, await this.serviceRoleReason(service, sourceArn, targetArn, role, actions));
    const reason = this.serviceRoleReasons.get(key);
    if (reason === undefined) return undefined;
    const dropped = this.mode === 'enforce';
    this.keptDeliveries.push({ at: new Date().toISOString(), service, sourceArn, queueArn: targetArn, reason, dropped });
    if (this.keptDeliveries.length > KEPT_DENIALS) this.keptDeliveries.shift();
    this.log(`[iam] ${service} delivery from ${sourceArn} to ${targetArn} ${dropped ? 'refused' : 'would be refused on AWS (--iam warn: delivered)'}: ${reason}`);
    return dropped ? reason : undefined;
  }

  /** Why `service` may not use `role` to perform `actions` on `targetArn` for `sourceArn` (undefined: it may). */
  private async serviceRoleReason(service: string, sourceArn: string, targetArn: string, role: RoleModel, actions: string[]): Promise<string | undefined> {
    const model = this.model as IamModel;
    const trust = await runSimulation(
      {
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: role.trust ?? { Version: '2012-10-17', Statement: [] },
        request: { action: 'sts:AssumeRole', principal: service, resource: { resource: role.roleArn, accountId: model.accountId }, contextVariables: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': model.accountId } },
      },
      {},
    );
    if (trust.resultType !== 'error' && trust.overallResult !== 'Allowed') return `the trust policy of role ${role.roleName} does not let ${service} assume it`;
    const identity: FunctionIdentity = { functionName: service, role, principalArn: `arn:${model.partition}:sts::${model.accountId}:assumed-role/${role.roleName}/${service}` };
    for (const action of actions) {
      const decision = await this.decide(identity, { action, resource: targetArn });
      if (!decision.allowed) return `role ${role.roleName} is not authorized to perform: ${action} on resource: ${targetArn} (${decision.kind === 'explicit' ? 'a Deny statement matches' : 'no statement allows it'})`;
    }
    return undefined;
  }

  /** The deliveries a queue policy refused (or, under `warn`, would have). */
  deliveryDenials(): DeliveryDenial[] {
    return [...this.keptDeliveries];
  }

  /** Why `service` may not deliver from `sourceArn` to the queue or topic `targetArn` (undefined: it may). */
  private async deliveryRefusal(service: string, sourceArn: string, targetArn: string, policy: Record<string, unknown> | undefined): Promise<string | undefined> {
    const targetService = targetArn.split(':')[2];
    const [what, action, verb] =
      targetService === 'sns' ? ['topic', 'sns:Publish', 'publish to it'] : targetService === 'lambda' ? ['function', 'lambda:InvokeFunction', 'invoke it'] : ['queue', 'sqs:SendMessage', 'send to it'];
    if (policy === undefined) return `the ${what} has no ${targetService === 'lambda' ? 'resource policy (no AWS::Lambda::Permission)' : 'policy'}, so nothing allows ${service} to ${verb}`;
    const model = this.model as IamModel;
    const result = await runSimulation(
      {
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: policy,
        request: {
          action,
          principal: service,
          resource: { resource: targetArn, accountId: model.accountId },
          contextVariables: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': model.accountId, 'aws:SecureTransport': 'true' },
        },
      },
      {},
    );
    if (result.resultType === 'error') {
      this.log(`[iam] WARN ${what} policy of ${targetArn} not evaluated (deliveries allowed): ${JSON.stringify(result.errors)}`);
      return undefined;
    }
    if (result.overallResult === 'Allowed') return undefined;
    return result.overallResult === 'ExplicitlyDenied'
      ? `the ${what} policy denies it (aws:SourceArn ${sourceArn})`
      : `the ${what} policy allows no ${service} ${action} with aws:SourceArn ${sourceArn}`;
  }

  /** The last denials (and, in `warn` mode, the requests that would have been denied). */
  denials(): IamDenial[] {
    return [...this.kept];
  }

  /** How many requests were evaluated as a function's (so a test can tell "nothing denied" from "nothing evaluated"). */
  evaluated(): number {
    return this.screened;
  }

  /** Hands `req` to `next` if IAM allows it (or does not apply to it); otherwise answers the denial. */
  async screen(req: IncomingMessage, res: ServerResponse, next: (allowed: IncomingMessage) => Promise<void>): Promise<void> {
    const key = this.mode === 'off' ? undefined : accessKeyIdOf(req);
    const identity = key === undefined ? undefined : this.model?.identities.get(key);
    if (identity === undefined) return next(req);
    const { request, forward } = await this.classify(req);
    if (request === undefined) return next(forward);
    const model = this.model as IamModel;
    this.screened += 1;
    for (const authorization of authorizationsOf(request, model, (table) => model.hashKeys.get(table))) {
      const decision = await this.decide(identity, authorization);
      if (decision.allowed) continue;
      const message = deniedMessage(identity, authorization, decision.kind);
      const refused = this.mode === 'enforce';
      this.record({ at: new Date().toISOString(), functionName: identity.functionName, roleName: identity.role.roleName, ...authorization, kind: decision.kind, message, refused });
      if (refused) return sendDenied(res, request, req.method ?? 'GET', message);
    }
    return next(forward);
  }

  /** The request as IAM sees it; its body is read (and replayed for the edge) only where the parameters are in it. */
  private async classify(req: IncomingMessage): Promise<{ request?: ClassifiedRequest; forward: IncomingMessage }> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const routed = classifyRequest(method, url, req.headers);
    if (routed.service === 's3') {
      const location = s3Location(req.headers.host, url);
      const operation = s3OperationOf(method, location.key, location.query, req.headers);
      const copySource = req.headers['x-amz-copy-source'];
      const base = { protocol: 's3' as const, operation, key: location.key, query: location.query, ...(location.bucket === undefined ? {} : { bucket: location.bucket }), ...(typeof copySource === 'string' ? { copySource } : {}) };
      if (operation !== 'DeleteObjects') return { request: base, forward: req };
      const body = await readBody(req);
      return { request: { ...base, deleteBody: body.toString('utf8') }, forward: replay(req, body) };
    }
    if (routed.service === 'health' || routed.service === 'unsupported') return { forward: req };
    const body = await readBody(req);
    const forward = replay(req, body);
    const text = body.toString('utf8');
    if (routed.operation !== undefined && routed.service !== 'sns' && routed.service !== 'sts' && routed.service !== 'cloudformation') {
      try {
        const input = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
        return { request: { protocol: 'json', service: routed.service, operation: routed.operation, input }, forward };
      } catch {
        // The service answers the SerializationException.
        return { forward };
      }
    }
    const params = new URLSearchParams([...new URL(url, 'http://edge').searchParams, ...new URLSearchParams(text)]);
    const service = routed.service === 'sqs' || routed.service === 'sts' || routed.service === 'cloudformation' ? routed.service : 'sns';
    return { request: { protocol: 'query', service, operation: params.get('Action') ?? '', params }, forward };
  }

  private async decide(identity: FunctionIdentity, authorization: Authorization): Promise<Decision> {
    const model = this.model as IamModel;
    const cacheKey = decisionKey(identity.role, authorization);
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const simulation: Simulation = {
      identityPolicies: identity.role.policies.map((policy) => ({ name: policy.name, policy: policy.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: authorization.action,
        principal: identity.principalArn,
        resource: { resource: authorization.resource, accountId: model.accountId },
        contextVariables: { ...globalContext(identity, model), ...authorization.context },
      },
    };
    this.simulated += 1;
    const result = await runSimulation(simulation, {});
    let decision: Decision;
    if (result.resultType === 'error') {
      // The evaluator could not judge (an action its data lacks, a policy it rejects): allowed, said once.
      const note = `${authorization.action} on ${authorization.resource}: ${JSON.stringify(result.errors)}`;
      if (!this.warned.has(note)) this.log(`[iam] WARN not evaluated (allowed): ${note}`);
      this.warned.add(note);
      decision = { allowed: true };
    } else if (result.overallResult === 'Allowed') {
      decision = { allowed: true };
    } else {
      decision = { allowed: false, kind: result.overallResult === 'ExplicitlyDenied' ? 'explicit' : 'implicit' };
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(cacheKey, decision);
    return decision;
  }

  private record(denial: IamDenial): void {
    this.kept.push(denial);
    if (this.kept.length > KEPT_DENIALS) this.kept.shift();
    // A poller retries every second: the same denial is logged once a minute (kept, and counted, every time).
    const key = `${denial.functionName}\n${denial.action}\n${denial.resource}\n${denial.refused}`;
    const now = Date.now();
    if (now - (this.loggedAt.get(key) ?? -Infinity) < REPEAT_LOG_MS) return;
    if (this.loggedAt.size >= CACHE_LIMIT) this.loggedAt.clear();
    this.loggedAt.set(key, now);
    const verdict = denial.refused ? 'AccessDenied' : 'would be AccessDenied on AWS (--iam warn: allowed)';
    const why = denial.kind === 'explicit' ? 'a Deny statement matches' : 'no statement allows it';
    this.log(`[iam] ${denial.functionName}: ${denial.action} on ${denial.resource} ${verdict}: role ${denial.roleName}, ${why}`);
  }
}

/**
 * Global condition keys every request from a function carries (IAM user guide, "AWS global condition context keys").
 * `aws:SecureTransport` is true: the edge speaks HTTP on loopback, where AWS would have TLS. Time keys
 * (`aws:CurrentTime`, `aws:EpochTime`) are left out, so decisions can be cached.
 */
function globalContext(identity: FunctionIdentity, model: IamModel): Record<string, string> {
  return {
    'aws:PrincipalArn': identity.role.roleArn,
    'aws:PrincipalAccount': model.accountId,
    'aws:PrincipalType': 'AssumedRole',
    'aws:RequestedRegion': model.region,
    'aws:SecureTransport': 'true',
  };
}

function parseIamMode(value: string, source: string): IamMode {
  if ((IAM_MODES as readonly string[]).includes(value)) return value as IamMode;
  throw new TypeError(`${source} must be one of ${IAM_MODES.join(', ')} (got '${value}')`);
}

export { IamGuard, S3_PRINCIPAL, SNS_PRINCIPAL, parseIamMode };
export type { IamMode, IamReport };

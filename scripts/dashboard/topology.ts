/**
 * The dashboard's topology: nodes and edges read from the compiled CloudFormation template (the artifact
 * `serverless deploy` ships), laid out in columns, left to right, in the direction data flows.
 *
 * What becomes an edge, and where it is read from:
 * - HTTP API → function: `AWS::ApiGatewayV2::Route` → `Integration.IntegrationUri`;
 * - topic → queue: `AWS::SNS::Subscription` (label: its `FilterPolicy`);
 * - bucket → queue: the bucket's `NotificationConfiguration.QueueConfigurations`;
 * - queue or stream → function: `AWS::Lambda::EventSourceMapping` (on-failure destination: function → queue);
 * - stream → Firehose → bucket: the delivery stream's source and destination;
 * - function → topic, queue, bucket, stream, table: the statements of the function's IAM role (least privilege
 *   makes them exact): `sns:Publish`, `sqs:SendMessage`, `s3:PutObject`, `kinesis:PutRecord(s)`, DynamoDB writes;
 *   read-only grants (`dynamodb:GetItem`, `s3:GetObject`) are kept as `reads` edges.
 * Dead-letter queues (a queue's `RedrivePolicy`, a subscription's `RedrivePolicy`) are not nodes of their own:
 * they are drawn under the queue they protect.
 */
import { isRecord } from '#lib/domain/validate.ts';

type NodeKind = 'api' | 'function' | 'topic' | 'queue' | 'stream' | 'firehose' | 'bucket' | 'table';
type EdgeKind = 'invokes' | 'delivers' | 'publishes' | 'sends' | 'writes' | 'reads' | 'onFailure';

interface DeadLetterQueue {
  logicalId: string;
  /** The queue's name (physical id). */
  name: string;
  url?: string;
  /** `queue`: the queue's RedrivePolicy; `subscription`: the SNS subscription's (undeliverable messages). */
  of: 'queue' | 'subscription';
  maxReceiveCount?: number;
}

interface TopologyNode {
  id: string;
  kind: NodeKind;
  /** Short display name (`billing`, `chargeOrder`). */
  label: string;
  /** Physical name: queue name, function name, bucket name... */
  name: string;
  url?: string;
  arn?: string;
  /** Extra lines: routes of an API, FIFO, delay seconds... */
  details: string[];
  dlqs: DeadLetterQueue[];
  /** A queue that is itself a failure destination (Kinesis on-failure). */
  failureDestination?: boolean;
  column: number;
  row: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

interface TopologyEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  label?: string;
}

interface Topology {
  stackName: string;
  nodes: TopologyNode[];
  edges: TopologyEdge[];
  width: number;
  height: number;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

interface TopologyInput {
  template: { Resources: Record<string, CfnResource> };
  stackName: string;
  /** Physical identities of what the local cloud created (cloud.resources). */
  resources: Record<string, { type: string; physicalId: string; arn?: string; url?: string }>;
  /** Function physical names by logical id, when known (cloud.runtime). */
  functionNames?: Record<string, string>;
}

const NODE_TYPES: Record<string, NodeKind> = {
  'AWS::ApiGatewayV2::Api': 'api',
  'AWS::Lambda::Function': 'function',
  'AWS::SNS::Topic': 'topic',
  'AWS::SQS::Queue': 'queue',
  'AWS::Kinesis::Stream': 'stream',
  'AWS::KinesisFirehose::DeliveryStream': 'firehose',
  'AWS::S3::Bucket': 'bucket',
  'AWS::DynamoDB::Table': 'table',
};

/** The framework's artifact bucket: part of the stack, not of the application. */
const IGNORED = new Set(['ServerlessDeploymentBucket']);

const WRITE_ACTIONS: Array<[RegExp, EdgeKind]> = [
  [/^sns:Publish(Batch)?$/, 'publishes'],
  [/^sqs:SendMessage(Batch)?$/, 'sends'],
  [/^s3:PutObject$/, 'writes'],
  [/^kinesis:PutRecords?$/, 'writes'],
  [/^firehose:PutRecord(Batch)?$/, 'writes'],
  [/^dynamodb:(PutItem|UpdateItem|BatchWriteItem|DeleteItem|TransactWriteItems)$/, 'writes'],
];
const READ_ACTIONS = /^(dynamodb:(GetItem|BatchGetItem|Query|Scan)|s3:GetObject)$/;

const NODE_WIDTH = 152;
const COLUMN_GAP = 34;
const ROW_GAP = 16;
const BASE_HEIGHT: Record<NodeKind, number> = { api: 74, function: 60, topic: 46, queue: 62, stream: 46, firehose: 46, bucket: 46, table: 46 };
const DLQ_HEIGHT = 19;
const MARGIN = 12;

/** Every logical id an expression refers to: `Ref`, `Fn::GetAtt`, `${Id}` / `${Id.Attr}` in `Fn::Sub`. */
function referencedIds(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedIds(item, into);
    return into;
  }
  if (!isRecord(value)) return into;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'Ref' && typeof inner === 'string') into.add(inner);
    else if (key === 'Fn::GetAtt') {
      const target = Array.isArray(inner) ? inner[0] : typeof inner === 'string' ? inner.split('.')[0] : undefined;
      if (typeof target === 'string') into.add(target);
    } else if (key === 'Fn::Sub') {
      const text = Array.isArray(inner) ? inner[0] : inner;
      if (typeof text === 'string') for (const match of text.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)) into.add(match[1] ?? '');
      if (Array.isArray(inner)) referencedIds(inner[1], into);
    } else referencedIds(inner, into);
  }
  into.delete('');
  return into;
}

/** The one logical id an expression points at, if exactly one. */
function singleRef(value: unknown): string | undefined {
  const ids = [...referencedIds(value)];
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * `orderflow-local-billing` → `billing`; `orderflow-local-order-store.fifo` → `order-store.fifo`;
 * `orderflow-local-documents-000000000000` → `documents` (bucket names end with the account id).
 */
function shortLabel(name: string, stackName: string): string {
  const short = name.startsWith(`${stackName}-`) ? name.slice(stackName.length + 1) : name;
  return short.replace(/-\d{12}$/, '');
}

/** `{"type":["OrderPlaced"],"fulfillment":["physical"]}` → `type=OrderPlaced fulfillment=physical`. */
function filterLabel(policy: unknown): string | undefined {
  if (typeof policy === 'string') {
    try {
      return filterLabel(JSON.parse(policy));
    } catch {
      return undefined;
    }
  }
  if (!isRecord(policy)) return undefined;
  return Object.entries(policy)
    .map(([key, values]) => `${key}=${(Array.isArray(values) ? values : [values]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('|')}`)
    .join(' ');
}

function parseRedrive(value: unknown): { target?: string; maxReceiveCount?: number } {
  const policy = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (!isRecord(policy)) return {};
  const max = Number(policy.maxReceiveCount);
  return { target: singleRef(policy.deadLetterTargetArn), ...(Number.isFinite(max) ? { maxReceiveCount: max } : {}) };
}

/**
 * Reads nodes and edges from the compiled template and lays them out (see the module comment).
 *
 * @example
 * const topology = buildTopology({ template, stackName: cloud.stackName, resources: cloud.resources });
 */
function buildTopology(input: TopologyInput): Topology {
  const { template, stackName, resources } = input;
  const all = template.Resources;
  const nodes = new Map<string, TopologyNode>();
  const edges: TopologyEdge[] = [];
  const edgeKeys = new Set<string>();
  const addEdge = (edge: TopologyEdge): void => {
    const key = `${edge.from}>${edge.to}>${edge.kind}`;
    if (edge.from === edge.to || edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push(edge);
  };

  // Dead-letter queues first: they are drawn under their queue, not as nodes.
  const dlqOf = new Map<string, { parent: string; of: DeadLetterQueue['of']; maxReceiveCount?: number }>();
  for (const [id, resource] of Object.entries(all)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::SQS::Queue' && props.RedrivePolicy !== undefined) {
      const { target, maxReceiveCount } = parseRedrive(props.RedrivePolicy);
      if (target) dlqOf.set(target, { parent: id, of: 'queue', ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }) });
    }
    if (resource.Type === 'AWS::SNS::Subscription' && props.RedrivePolicy !== undefined) {
      const { target } = parseRedrive(props.RedrivePolicy);
      const endpoint = singleRef(props.Endpoint);
      if (target && endpoint) dlqOf.set(target, { parent: endpoint, of: 'subscription' });
    }
  }

  const physical = (id: string): { name: string; url?: string; arn?: string } => {
    const resource = resources[id];
    const physicalId = input.functionNames?.[id] ?? resource?.physicalId ?? id;
    // A queue's physical id is its URL, a topic's its ARN: the name is the last segment.
    const name = /^(arn:|https?:\/\/)/.test(physicalId) ? (physicalId.split(/[/:]/).pop() ?? physicalId) : physicalId;
    return { name, ...(resource?.url ? { url: resource.url } : {}), ...(resource?.arn ? { arn: resource.arn } : {}) };
  };

  for (const [id, resource] of Object.entries(all)) {
    const kind = NODE_TYPES[resource.Type];
    if (!kind || IGNORED.has(id) || dlqOf.has(id)) continue;
    const props = resource.Properties ?? {};
    const { name, url, arn } = physical(id);
    const details: string[] = [];
    if (kind === 'queue') {
      if (props.FifoQueue === true || props.FifoQueue === 'true') details.push('FIFO');
      if (Number(props.DelaySeconds ?? 0) > 0) details.push(`delay ${String(props.DelaySeconds)} s`);
    }
    if (kind === 'topic' && (props.FifoTopic === true || props.FifoTopic === 'true')) details.push('FIFO');
    nodes.set(id, {
      id,
      kind,
      label: kind === 'api' ? 'HTTP API' : shortLabel(name, stackName),
      name,
      ...(url ? { url } : {}),
      ...(arn ? { arn } : {}),
      details,
      dlqs: [],
      column: 0,
      row: 0,
      x: 0,
      y: 0,
      width: NODE_WIDTH,
      height: BASE_HEIGHT[kind],
    });
  }
  for (const [dlqId, { parent, of, maxReceiveCount }] of dlqOf) {
    const node = nodes.get(parent);
    if (!node) continue;
    const { name, url } = physical(dlqId);
    node.dlqs.push({ logicalId: dlqId, name, ...(url ? { url } : {}), of, ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }) });
  }
  for (const node of nodes.values()) {
    node.dlqs.sort((a, b) => (a.of === b.of ? a.name.localeCompare(b.name) : a.of === 'queue' ? -1 : 1));
    node.height += node.dlqs.length * DLQ_HEIGHT;
  }

  // Function logical id by role, to turn IAM statements into edges.
  const functionByRole = new Map<string, string>();
  for (const [id, resource] of Object.entries(all)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const role = singleRef(resource.Properties?.Role);
    if (role) functionByRole.set(role, id);
  }

  for (const [id, resource] of Object.entries(all)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::ApiGatewayV2::Route': {
        const api = singleRef(props.ApiId);
        const integration = [...referencedIds(props.Target)].find((ref) => all[ref]?.Type === 'AWS::ApiGatewayV2::Integration');
        const fn = integration ? singleRef(all[integration]?.Properties?.IntegrationUri) : undefined;
        if (api && fn) {
          addEdge({ from: api, to: fn, kind: 'invokes', label: String(props.RouteKey ?? '') });
          nodes.get(api)?.details.push(String(props.RouteKey ?? ''));
        }
        break;
      }
      case 'AWS::SNS::Subscription': {
        const topic = singleRef(props.TopicArn);
        const queue = singleRef(props.Endpoint);
        if (topic && queue) addEdge({ from: topic, to: queue, kind: 'delivers', ...(filterLabel(props.FilterPolicy) ? { label: filterLabel(props.FilterPolicy) } : {}) });
        break;
      }
      case 'AWS::S3::Bucket': {
        const notifications = isRecord(props.NotificationConfiguration) ? props.NotificationConfiguration : {};
        const configurations = Array.isArray(notifications.QueueConfigurations) ? notifications.QueueConfigurations : [];
        const prefixes = new Map<string, string[]>();
        for (const configuration of configurations) {
          if (!isRecord(configuration)) continue;
          const queue = singleRef(configuration.Queue);
          if (!queue) continue;
          const rules = (configuration.Filter as { S3Key?: { Rules?: { Name?: string; Value?: string }[] } } | undefined)?.S3Key?.Rules ?? [];
          prefixes.set(queue, [...(prefixes.get(queue) ?? []), ...rules.map((rule) => `${rule.Name === 'suffix' ? '*' : ''}${rule.Value ?? ''}${rule.Name === 'prefix' ? '*' : ''}`)]);
        }
        for (const [queue, labels] of prefixes) addEdge({ from: id, to: queue, kind: 'delivers', label: `ObjectCreated ${labels.join(' ')}`.trim() });
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const source = singleRef(props.EventSourceArn);
        const fn = singleRef(props.FunctionName);
        if (source && fn) addEdge({ from: source, to: fn, kind: 'invokes', label: `batch ${String(props.BatchSize ?? '')}`.trim() });
        const destination = isRecord(props.DestinationConfig) ? singleRef((props.DestinationConfig.OnFailure as Record<string, unknown> | undefined)?.Destination) : undefined;
        if (fn && destination) {
          addEdge({ from: fn, to: destination, kind: 'onFailure', label: 'on failure' });
          const node = nodes.get(destination);
          if (node) node.failureDestination = true;
        }
        break;
      }
      case 'AWS::KinesisFirehose::DeliveryStream': {
        const source = singleRef((props.KinesisStreamSourceConfiguration as Record<string, unknown> | undefined)?.KinesisStreamARN);
        const destination = isRecord(props.ExtendedS3DestinationConfiguration) ? props.ExtendedS3DestinationConfiguration : isRecord(props.S3DestinationConfiguration) ? props.S3DestinationConfiguration : {};
        const bucket = singleRef(destination.BucketARN);
        if (source) addEdge({ from: source, to: id, kind: 'delivers' });
        if (bucket) addEdge({ from: id, to: bucket, kind: 'writes', ...(typeof destination.Prefix === 'string' ? { label: destination.Prefix.split('/')[0] + '/' } : {}) });
        break;
      }
      case 'AWS::IAM::Role': {
        const fn = functionByRole.get(id);
        if (!fn) break;
        const policies = Array.isArray(props.Policies) ? props.Policies : [];
        for (const policy of policies) {
          const statements = ((policy as { PolicyDocument?: { Statement?: unknown } }).PolicyDocument?.Statement ?? []) as unknown;
          for (const statement of Array.isArray(statements) ? statements : [statements]) {
            if (!isRecord(statement) || statement.Effect !== 'Allow') continue;
            const actions = (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).map(String);
            const targets = [...referencedIds(statement.Resource)].filter((ref) => nodes.has(ref) || dlqOf.has(ref));
            for (const target of targets) {
              const to = nodes.has(target) ? target : (dlqOf.get(target)?.parent ?? target);
              const write = actions.map((action) => WRITE_ACTIONS.find(([pattern]) => pattern.test(action))?.[1]).find((kind) => kind !== undefined);
              if (write) addEdge({ from: fn, to, kind: write });
              else if (actions.some((action) => READ_ACTIONS.test(action)) && !edgeKeys.has(`${to}>${fn}>invokes`)) addEdge({ from: to, to: fn, kind: 'reads' });
            }
          }
        }
        break;
      }
      default:
        break;
    }
  }

  const connected = new Set(edges.flatMap((edge) => [edge.from, edge.to]));
  for (const id of [...nodes.keys()]) if (!connected.has(id)) nodes.delete(id);
  const kept = edges.filter((edge) => nodes.has(edge.from) && nodes.has(edge.to));
  return layout(stackName, [...nodes.values()], kept);
}

/**
 * Columns by longest path from the sources, over the edges that carry data forward (reads excluded; a cycle,
 * such as a consumer publishing back to the topic, is broken where a depth-first walk meets it). Nodes that
 * only feed others (the API, a function in front of the topic) move right next to their nearest successor.
 * Rows are ordered by the mean row of each node's neighbours (a few barycenter sweeps), which keeps the lines
 * short and mostly straight. Tables, where the data ends and which many functions write, sit in a band under
 * the columns, each below the mean column of its writers.
 */
function layout(stackName: string, nodes: TopologyNode[], edges: TopologyEdge[]): Topology {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const inBand = (id: string): boolean => byId.get(id)?.kind === 'table';
  const forward = edges.filter((edge) => edge.kind !== 'reads' && !inBand(edge.from) && !inBand(edge.to));
  const out = new Map<string, string[]>();
  const incoming = new Map<string, string[]>();
  for (const edge of forward) {
    out.set(edge.from, [...(out.get(edge.from) ?? []), edge.to]);
    incoming.set(edge.to, [...(incoming.get(edge.to) ?? []), edge.from]);
  }
  // Depth-first from the entry points (the API first, then the other nodes nothing feeds) to find the back edges.
  const kindOrder: NodeKind[] = ['api', 'bucket', 'topic', 'queue', 'function', 'stream', 'firehose', 'table'];
  const columnNodes = nodes.filter((node) => !inBand(node.id)).sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind));
  const roots = [...columnNodes.filter((node) => (incoming.get(node.id) ?? []).length === 0), ...columnNodes];
  const state = new Map<string, 'open' | 'done'>();
  const back = new Set<string>();
  const order: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'open');
    for (const next of out.get(id) ?? []) {
      if (state.get(next) === 'open') back.add(`${id}>${next}`);
      else if (!state.has(next)) visit(next);
    }
    state.set(id, 'done');
    order.push(id);
  };
  for (const root of roots) if (!state.has(root.id)) visit(root.id);
  const topo = order.reverse();
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const edge of forward) {
    if (back.has(`${edge.from}>${edge.to}`)) continue;
    preds.set(edge.to, [...(preds.get(edge.to) ?? []), edge.from]);
    succs.set(edge.from, [...(succs.get(edge.from) ?? []), edge.to]);
  }
  const column = new Map<string, number>();
  for (const id of topo) column.set(id, Math.max(0, ...(preds.get(id) ?? []).map((p) => (column.get(p) ?? 0) + 1)));
  // Pull feeders right, next to their nearest successor.
  for (const id of [...topo].reverse()) {
    const next = succs.get(id) ?? [];
    if (next.length > 0) column.set(id, Math.max(column.get(id) ?? 0, Math.min(...next.map((s) => (column.get(s) ?? 0) - 1))));
  }

  const columns: string[][] = [];
  for (const id of topo) (columns[column.get(id) ?? 0] ??= []).push(id);
  const kindRank = (id: string): number => kindOrder.indexOf(byId.get(id)?.kind ?? 'table');
  for (const ids of columns) ids?.sort((a, b) => kindRank(a) - kindRank(b));
  const rowOf = new Map<string, number>();
  const place = (): void => columns.forEach((ids) => ids?.forEach((id, index) => rowOf.set(id, index)));
  place();
  for (let sweep = 0; sweep < 8; sweep += 1) {
    for (const ids of sweep % 2 === 0 ? columns : [...columns].reverse()) {
      if (!ids) continue;
      const score = new Map(
        ids.map((id, index) => {
          const around = (sweep % 2 === 0 ? preds.get(id) : succs.get(id)) ?? [];
          return [id, around.length > 0 ? around.reduce((sum, n) => sum + (rowOf.get(n) ?? 0), 0) / around.length : index];
        }),
      );
      ids.sort((a, b) => (score.get(a) ?? 0) - (score.get(b) ?? 0));
      place();
    }
  }

  let height = 0;
  columns.forEach((ids, c) => {
    let y = MARGIN;
    ids?.forEach((id, r) => {
      const node = byId.get(id);
      if (!node) return;
      node.column = c;
      node.row = r;
      node.x = MARGIN + c * (NODE_WIDTH + COLUMN_GAP);
      node.y = y;
      y += node.height + ROW_GAP;
    });
    height = Math.max(height, y);
  });
  // Centre each column vertically on the tallest one.
  columns.forEach((ids) => {
    const list = (ids ?? []).map((id) => byId.get(id)).filter((node): node is TopologyNode => node !== undefined);
    const last = list[list.length - 1];
    if (!last) return;
    const shift = Math.floor((height - (last.y + last.height + ROW_GAP)) / 2);
    for (const node of list) node.y += shift;
  });

  // The band of tables: each under the mean column of the functions that write or read it, no two in one column.
  const band = nodes.filter((node) => inBand(node.id));
  const taken = new Set<number>();
  const bandY = height + ROW_GAP;
  for (const node of band) {
    const touching = edges.filter((edge) => edge.from === node.id || edge.to === node.id).map((edge) => (edge.from === node.id ? edge.to : edge.from));
    const writers = edges.filter((edge) => edge.to === node.id).map((edge) => edge.from);
    const around = (writers.length > 0 ? writers : touching).map((id) => column.get(id) ?? 0);
    let c = Math.round(around.reduce((sum, n) => sum + n, 0) / Math.max(1, around.length));
    for (let step = 1; taken.has(c); step += 1) c += step % 2 === 1 ? step : -step;
    taken.add(c);
    node.column = c;
    node.row = -1;
    node.x = MARGIN + Math.max(0, c) * (NODE_WIDTH + COLUMN_GAP);
    node.y = bandY;
  }
  if (band.length > 0) height = bandY + Math.max(...band.map((node) => node.height));
  const lastColumn = Math.max(columns.length - 1, ...band.map((node) => node.column));
  const width = MARGIN * 2 + (lastColumn + 1) * NODE_WIDTH + lastColumn * COLUMN_GAP;
  const sorted = [...topo, ...band.map((node) => node.id)].map((id) => byId.get(id)).filter((node): node is TopologyNode => node !== undefined);
  return { stackName, nodes: sorted, edges, width, height: height + MARGIN };
}

export { buildTopology };
export type { Topology };

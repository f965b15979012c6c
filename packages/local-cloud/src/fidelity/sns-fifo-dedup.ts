/**
 * SNS FIFO topic deduplication, which fauxqs 2.4.1 lacks (it fans every Publish out; only a FIFO
 * queue subscriber's own deduplication stops a repeat, a standard queue subscriber gets it again),
 * and the SequenceNumber SNS returns for FIFO topics.
 *
 * SNS: "If a message with a particular MessageDeduplicationId is sent successfully, subsequent
 * messages within the deduplication scope and interval, with the same MessageDeduplicationId, are
 * accepted successfully but aren't delivered" (Publish API reference). The interval is 5 minutes;
 * the scope is the topic, or each message group when the topic's FifoThroughputScope is
 * MessageGroup. With ContentBasedDeduplication and no explicit id, the id is the SHA-256 of the
 * body (not the attributes).
 *
 * The edge answers a duplicate itself, with the MessageId and SequenceNumber of the message it
 * repeats (what SQS FIFO answers for a duplicate), and forwards the rest. Check and publish run one
 * at a time per topic (FIFO topics are ordered anyway). Every accepted message is appended to a
 * JSON-lines file before the client hears 200, so a restart within the interval still
 * deduplicates; the file is compacted (expired ids dropped) at start and as it grows.
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createKeyLocks } from '../util/key-locks.ts';
import { ensureParentDirectory, writeTextFileAtomic } from '../util/json-file.ts';
import type { BufferedResponse } from '../edge/proxy.ts';
import { escapeXml, xmlElements, xmlText } from '../util/xml.ts';

/** SNS developer guide, "Message deduplication for FIFO topics": the 5-minute deduplication interval. */
const DEDUPLICATION_INTERVAL_MS = 5 * 60_000;
/** How long topic attributes read from fauxqs are trusted (SetTopicAttributes/DeleteTopic through the edge also forget them). */
const ATTRIBUTES_TTL_MS = 5_000;
const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const BATCH_ENTRY = /^PublishBatchRequestEntries\.member\.(\d+)\.(.+)$/;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;

interface SnsFifoDedupOptions {
  /** JSON-lines state file, e.g. `<dataDir>/edge/sns-fifo-dedup.jsonl`. */
  file: string;
  /** Default 5 minutes. */
  intervalMs?: number;
  now?: () => number;
}

/** Sends a query-protocol body (`Action=...&...`) to fauxqs and reads the answer. */
type ForwardQuery = (body: Buffer) => Promise<BufferedResponse>;

interface SnsFifoDedup {
  /**
   * Handles an SNS query-protocol request whose body the edge has read. Undefined: not a request
   * it answers (not a Publish/PublishBatch to a FIFO topic, or one fauxqs must reject): forward it as it is.
   */
  handle(action: string, body: Buffer, forward: ForwardQuery): Promise<BufferedResponse | undefined>;
  /** Deduplication ids remembered (for tests and stats). */
  size(): number;
  close(): void;
}

interface Accepted {
  messageId: string;
  sequenceNumber: string;
  /** When it was first accepted (ms). */
  at: number;
}

interface TopicState {
  /** Last SequenceNumber issued. */
  sequence: bigint;
  /** Scoped deduplication id -> the message it was first accepted for, oldest first. */
  accepted: Map<string, Accepted>;
}

interface TopicAttributes {
  contentBasedDeduplication: boolean;
  perMessageGroup: boolean;
}

/** One line of the state file. */
type StateLine =
  | { topic: string; key: string; messageId: string; sequenceNumber: string; at: number }
  | { topic: string; sequence: string }
  | { topic: string; deleted: true };

interface BatchEntry {
  index: number;
  fields: Map<string, string>;
  id: string;
  /** Scoped deduplication id; undefined when the entry lacks what FIFO needs (fauxqs rejects it). */
  key?: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SNS sequence numbers are 128-bit decimal strings that grow per topic; 20 digits as fauxqs gives SQS. */
function formatSequence(sequence: bigint): string {
  return sequence.toString().padStart(20, '0');
}

function scopedKey(attributes: TopicAttributes, groupId: string, deduplicationId: string): string {
  return attributes.perMessageGroup ? JSON.stringify([groupId, deduplicationId]) : JSON.stringify([deduplicationId]);
}

/** The scoped deduplication id of a message, or undefined when SNS would reject it (no group, no id). */
function deduplicationKey(attributes: TopicAttributes, groupId: string | undefined, explicitId: string | undefined, message: string | undefined): string | undefined {
  if (groupId === undefined || groupId === '' || message === undefined || message === '') return undefined;
  const id = explicitId !== undefined && explicitId !== '' ? explicitId : attributes.contentBasedDeduplication ? sha256(message) : undefined;
  return id === undefined ? undefined : scopedKey(attributes, groupId, id);
}

function xmlResponse(body: string): BufferedResponse {
  return { statusCode: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }, body: Buffer.from(body) };
}

function successXml(action: 'Publish' | 'PublishBatch', result: string): string {
  return `<${action}Response xmlns="${SNS_XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

function batchSuccessXml(id: string, accepted: { messageId: string; sequenceNumber: string }): string {
  return `<member><Id>${escapeXml(id)}</Id><MessageId>${escapeXml(accepted.messageId)}</MessageId><SequenceNumber>${accepted.sequenceNumber}</SequenceNumber></member>`;
}

function createSnsFifoDedup(options: SnsFifoDedupOptions): SnsFifoDedup {
  const intervalMs = options.intervalMs ?? DEDUPLICATION_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const topics = new Map<string, TopicState>();
  const attributesCache = new Map<string, { attributes: TopicAttributes | undefined; until: number }>();
  const locks = createKeyLocks();
  let appendedSinceCompaction = 0;

  const topicState = (arn: string): TopicState => {
    let state = topics.get(arn);
    if (state === undefined) {
      state = { sequence: 0n, accepted: new Map() };
      topics.set(arn, state);
    }
    return state;
  };

  const expire = (state: TopicState): void => {
    const oldest = now() - intervalMs;
    for (const [key, accepted] of state.accepted) {
      if (accepted.at > oldest) break; // insertion order is acceptance order
      state.accepted.delete(key);
    }
  };

  const liveCount = (): number => [...topics.values()].reduce((sum, state) => sum + state.accepted.size, 0);

  // --- state file -----------------------------------------------------------------------------------------
  const load = (): void => {
    if (!existsSync(options.file)) return;
    for (const line of readFileSync(options.file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let entry: StateLine;
      try {
        entry = JSON.parse(line) as StateLine;
      } catch {
        continue; // a line torn by a crash mid-append: the message it describes was never acknowledged
      }
      if ('deleted' in entry) {
        topics.delete(entry.topic);
        continue;
      }
      const state = topicState(entry.topic);
      if ('sequence' in entry) {
        const sequence = BigInt(entry.sequence);
        if (sequence > state.sequence) state.sequence = sequence;
        continue;
      }
      const sequence = BigInt(entry.sequenceNumber);
      if (sequence > state.sequence) state.sequence = sequence;
      state.accepted.delete(entry.key);
      state.accepted.set(entry.key, { messageId: entry.messageId, sequenceNumber: entry.sequenceNumber, at: entry.at });
    }
  };

  /** Rewrites the file with the counters and the ids still inside the interval. */
  const compact = (): void => {
    const lines: string[] = [];
    for (const [topic, state] of topics) {
      expire(state);
      lines.push(JSON.stringify({ topic, sequence: state.sequence.toString() }));
      for (const [key, accepted] of state.accepted) lines.push(JSON.stringify({ topic, key, ...accepted }));
    }
    writeTextFileAtomic(options.file, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
    appendedSinceCompaction = 0;
  };

  load();
  compact();
  ensureParentDirectory(options.file);
  let fd: number | undefined = openSync(options.file, 'a');

  const append = (lines: StateLine[]): void => {
    if (lines.length === 0 || fd === undefined) return;
    writeSync(fd, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
    appendedSinceCompaction += lines.length;
    if (appendedSinceCompaction > 1_000 && appendedSinceCompaction > 2 * liveCount()) {
      closeSync(fd);
      compact();
      fd = openSync(options.file, 'a');
    }
  };

  const accept = (topic: string, key: string | undefined, messageId: string): { line?: StateLine; sequenceNumber: string } => {
    const state = topicState(topic);
    state.sequence += 1n;
    const sequenceNumber = formatSequence(state.sequence);
    if (key === undefined) return { line: { topic, sequence: state.sequence.toString() }, sequenceNumber };
    const accepted = { messageId, sequenceNumber, at: now() };
    state.accepted.set(key, accepted);
    return { line: { topic, key, ...accepted }, sequenceNumber };
  };

  const lookup = (topic: string, key: string | undefined): Accepted | undefined => {
    if (key === undefined) return undefined;
    const state = topics.get(topic);
    if (state === undefined) return undefined;
    expire(state);
    return state.accepted.get(key);
  };

  // --- topic attributes -----------------------------------------------------------------------------------
  async function attributesOf(topicArn: string, forward: ForwardQuery): Promise<TopicAttributes | undefined> {
    const cached = attributesCache.get(topicArn);
    if (cached !== undefined && cached.until > now()) return cached.attributes;
    const query = new URLSearchParams({ Action: 'GetTopicAttributes', Version: '2010-03-31', TopicArn: topicArn });
    const response = await forward(Buffer.from(query.toString()));
    let attributes: TopicAttributes | undefined;
    if (response.statusCode === 200) {
      const values = new Map(
        xmlElements(response.body.toString('utf8'), 'entry').map((entry) => [xmlText(entry, 'key') ?? '', xmlText(entry, 'value') ?? '']),
      );
      if (values.get('FifoTopic') === 'true') {
        attributes = {
          contentBasedDeduplication: values.get('ContentBasedDeduplication') === 'true',
          perMessageGroup: values.get('FifoThroughputScope') === 'MessageGroup',
        };
      }
    }
    attributesCache.set(topicArn, { attributes, until: now() + ATTRIBUTES_TTL_MS });
    return attributes;
  }

  // --- Publish ----------------------------------------------------------------------------------------------
  async function publish(topicArn: string, params: URLSearchParams, body: Buffer, forward: ForwardQuery): Promise<BufferedResponse | undefined> {
    const attributes = await attributesOf(topicArn, forward);
    if (attributes === undefined) return undefined;
    const key = deduplicationKey(attributes, params.get('MessageGroupId') ?? undefined, params.get('MessageDeduplicationId') ?? undefined, params.get('Message') ?? undefined);
    if (key === undefined) return undefined;
    const duplicate = lookup(topicArn, key);
    if (duplicate !== undefined) {
      return xmlResponse(successXml('Publish', `<MessageId>${escapeXml(duplicate.messageId)}</MessageId><SequenceNumber>${duplicate.sequenceNumber}</SequenceNumber>`));
    }
    const response = await forward(body);
    if (response.statusCode !== 200) return response;
    const text = response.body.toString('utf8');
    const messageId = xmlText(text, 'MessageId');
    if (messageId === undefined) return response;
    const { line, sequenceNumber } = accept(topicArn, key, messageId);
    append(line === undefined ? [] : [line]);
    return { ...response, body: Buffer.from(text.replace(/<\/MessageId>/, `</MessageId><SequenceNumber>${sequenceNumber}</SequenceNumber>`)) };
  }

  // --- PublishBatch -----------------------------------------------------------------------------------------
  async function publishBatch(topicArn: string, params: URLSearchParams, forward: ForwardQuery): Promise<BufferedResponse | undefined> {
    const attributes = await attributesOf(topicArn, forward);
    if (attributes === undefined) return undefined;
    const byIndex = new Map<number, Map<string, string>>();
    const base: [string, string][] = [];
    for (const [name, value] of params) {
      const match = BATCH_ENTRY.exec(name);
      if (match === null) {
        base.push([name, value]);
        continue;
      }
      const index = Number(match[1]);
      if (!byIndex.has(index)) byIndex.set(index, new Map());
      byIndex.get(index)?.set(match[2] ?? '', value);
    }
    const entries: BatchEntry[] = [...byIndex.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, fields]) => {
        const key = deduplicationKey(attributes, fields.get('MessageGroupId'), fields.get('MessageDeduplicationId'), fields.get('Message'));
        return { index, fields, id: fields.get('Id') ?? '', ...(key === undefined ? {} : { key }) };
      });
    // What fauxqs rejects as a whole (empty, too many entries, bad or repeated Ids) goes to it unchanged.
    const ids = new Set(entries.map((entry) => entry.id));
    if (entries.length === 0 || entries.length > 10 || ids.size !== entries.length || entries.some((entry) => !BATCH_ENTRY_ID.test(entry.id))) return undefined;

    const repeats = new Map<string, Accepted>(); // entry Id -> the earlier message it repeats
    const sameAsEarlierEntry = new Map<string, string>(); // entry Id -> Id of the earlier entry of this batch it repeats
    const firstInBatch = new Map<string, string>(); // scoped key -> entry Id
    const toForward: BatchEntry[] = [];
    for (const entry of entries) {
      const earlier = lookup(topicArn, entry.key);
      if (earlier !== undefined) repeats.set(entry.id, earlier);
      else if (entry.key !== undefined && firstInBatch.has(entry.key)) sameAsEarlierEntry.set(entry.id, firstInBatch.get(entry.key) ?? '');
      else {
        if (entry.key !== undefined) firstInBatch.set(entry.key, entry.id);
        toForward.push(entry);
      }
    }

    const successful = new Map<string, { messageId: string; sequenceNumber: string }>();
    const failed = new Map<string, string>(); // entry Id -> its <member> of <Failed>
    if (toForward.length > 0) {
      const forwarded = new URLSearchParams(base);
      toForward.forEach((entry, position) => {
        for (const [field, value] of entry.fields) forwarded.append(`PublishBatchRequestEntries.member.${position + 1}.${field}`, value);
      });
      const response = await forward(Buffer.from(forwarded.toString()));
      if (response.statusCode !== 200) return response;
      const text = response.body.toString('utf8');
      const keyOf = new Map(toForward.map((entry) => [entry.id, entry.key]));
      const lines: StateLine[] = [];
      for (const member of xmlElements(xmlElements(text, 'Successful')[0] ?? '', 'member')) {
        const id = xmlText(member, 'Id') ?? '';
        const messageId = xmlText(member, 'MessageId') ?? '';
        const { line, sequenceNumber } = accept(topicArn, keyOf.get(id), messageId);
        if (line !== undefined) lines.push(line);
        successful.set(id, { messageId, sequenceNumber });
      }
      append(lines);
      for (const member of xmlElements(xmlElements(text, 'Failed')[0] ?? '', 'member')) failed.set(xmlText(member, 'Id') ?? '', member);
    }

    const successXmlParts: string[] = [];
    const failedXmlParts: string[] = [];
    for (const entry of entries) {
      const repeated = repeats.get(entry.id) ?? successful.get(sameAsEarlierEntry.get(entry.id) ?? entry.id);
      if (repeated !== undefined) {
        successXmlParts.push(batchSuccessXml(entry.id, repeated));
        continue;
      }
      const failure = failed.get(sameAsEarlierEntry.get(entry.id) ?? entry.id);
      if (failure !== undefined) {
        failedXmlParts.push(`<member>${failure.replace(/<Id>[\s\S]*?<\/Id>/, `<Id>${escapeXml(entry.id)}</Id>`)}</member>`);
      }
    }
    return xmlResponse(successXml('PublishBatch', `<Successful>${successXmlParts.join('')}</Successful><Failed>${failedXmlParts.join('')}</Failed>`));
  }

  return {
    async handle(action, body, forward) {
      if (action !== 'Publish' && action !== 'PublishBatch' && action !== 'SetTopicAttributes' && action !== 'DeleteTopic') return undefined;
      const params = new URLSearchParams(body.toString('utf8'));
      const topicArn = params.get('TopicArn') ?? '';
      if (!topicArn.endsWith('.fifo')) return undefined;
      if (action === 'SetTopicAttributes') {
        attributesCache.delete(topicArn);
        return undefined;
      }
      return locks.run(topicArn, async () => {
        if (action === 'DeleteTopic') {
          const response = await forward(body);
          attributesCache.delete(topicArn);
          if (response.statusCode === 200 && topics.delete(topicArn)) append([{ topic: topicArn, deleted: true }]);
          return response;
        }
        return action === 'Publish' ? publish(topicArn, params, body, forward) : publishBatch(topicArn, params, forward);
      });
    },
    size: liveCount,
    close() {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
    },
  };
}

export { createSnsFifoDedup };
export type { SnsFifoDedup };

import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { ImportCheckpoint, ImportSource } from './aws/import-checkpoints.ts';
import { ObjectChangedError } from './aws/s3.ts';
import type { FieldError } from './domain/errors.ts';
import { InvalidOrderError, OrderflowError } from './domain/errors.ts';
import { deterministicId } from './domain/ids.ts';
import { parseOrderInput, type OrderInput } from './domain/order.ts';
import { checkString, parseJsonText } from './domain/validate.ts';
import { orderPlacedEvent } from './place-order.ts';
import type { OrderPlacedEvent } from './events/order-events.ts';

interface ImportLine {
  line: number;
  order: OrderInput;
}

interface RejectedLine {
  line: number;
  fields: FieldError[];
}

interface ParsedImport {
  accepted: ImportLine[];
  rejected: RejectedLine[];
}

/** A UTF-8 byte order mark (Windows editors write one) is not JSON: dropped, or line 1 would be rejected. */
const BOM = /^\uFEFF/;

/**
 * Judges one NDJSON line (1-based number): an order, a rejected line naming its fields, or undefined when blank.
 *
 * @example
 * const judged = judgeImportLine('{"customerId":"c-1",...}', 1); // { line: 1, order } or { line: 1, fields }
 */
const judgeImportLine = (raw: string, line: number): ImportLine | RejectedLine | undefined => {
  const text = line === 1 ? raw.replace(BOM, '') : raw;
  if (text.trim() === '') return undefined;
  try {
    return { line, order: parseOrderInput(parseJsonText(text)) };
  } catch (error) {
    return { line, fields: error instanceof InvalidOrderError ? error.fields : [{ field: '(line)', message: 'is not valid JSON' }] };
  }
};

/**
 * Splits an NDJSON import into valid orders and rejected lines (1-based line numbers, blank lines skipped).
 * A bad line never stops the import: it is reported with the fields at fault.
 *
 * @example
 * const { accepted, rejected } = parseImport(ndjsonText);
 */
const parseImport = (text: string): ParsedImport => {
  const accepted: ImportLine[] = [];
  const rejected: RejectedLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const judged = judgeImportLine(raw, index + 1);
    if (judged === undefined) return;
    if ('order' in judged) accepted.push(judged);
    else rejected.push(judged);
  });
  return { accepted, rejected };
};

/** An import file over the size limit (stage param `importMaxBytes`): refused whole, nothing more is published. */
class ImportTooLargeError extends OrderflowError {
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number) {
    super(`Import file is ${bytes > maxBytes ? `over ${maxBytes}` : bytes} bytes: the limit is ${maxBytes} bytes (importMaxBytes)`);
    this.name = 'ImportTooLargeError';
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * The lines of an NDJSON stream, one at a time: only the current chunk and line are held in memory, whatever the
 * file's size. UTF-8 is decoded across chunk boundaries; `\r\n` endings keep their `\r`, which JSON ignores as
 * whitespace. Throws ImportTooLargeError as soon as more than `maxBytes` arrive, whatever ContentLength said.
 *
 * @example
 * for await (const raw of ndjsonLines(body, 100 * 1024 * 1024)) judgeImportLine(raw, ++line);
 */
async function* ndjsonLines(chunks: AsyncIterable<Uint8Array | string>, maxBytes: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  let rest = '';
  for await (const chunk of chunks) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buffer.byteLength;
    if (bytes > maxBytes) throw new ImportTooLargeError(bytes, maxBytes);
    rest += decoder.write(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    let start = 0;
    for (let newline = rest.indexOf('\n'); newline !== -1; newline = rest.indexOf('\n', start)) {
      yield rest.slice(start, newline);
      start = newline + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}

/** What one import job does with a file version, for its log line and metrics. */
interface ImportOutcome {
  /** `imported`; `already imported` (a finished checkpoint); `superseded` (the key holds another version now); `too large`. */
  status: 'imported' | 'already imported' | 'superseded' | 'too large';
  accepted: number;
  rejected: number;
  /** Accepted lines published by this run (lines a checkpoint says were published are not published again). */
  published: number;
}

/** The I/O an import needs, injected: AWS in functions/importOrders.ts, fakes in tests. */
interface ImportIo {
  /** Opens exactly the notified version (S3 `If-Match`); throws ObjectChangedError when it was replaced. */
  open(): Promise<{ body: AsyncIterable<Uint8Array | string>; contentLength?: number }>;
  readCheckpoint(): Promise<ImportCheckpoint>;
  saveCheckpoint(checkpoint: ImportCheckpoint): Promise<unknown>;
  publish(events: OrderPlacedEvent[]): Promise<void>;
  putReport(key: string, body: string): Promise<void>;
}

/** Accepted lines published between two checkpoints: a crash republishes at most this many (SNS FIFO deduplicates them for 5 minutes; their order ids are deterministic). */
const CHECKPOINT_EVERY_LINES = 100;

/**
 * Imports one version of an NDJSON file: streams it line by line, publishes one OrderPlaced per valid line with a
 * deterministic id, and writes the rejected lines' report. A checkpoint per bucket/key/ETag records how far the
 * publishing went (every 100 accepted lines and at the end), so a retry, even after SNS FIFO's 5-minute
 * deduplication window, publishes only what was not published yet, and a finished import is never run again.
 * A file over `maxBytes` (the notification's size, ContentLength, or the bytes read) is refused with a report
 * saying so; a key overwritten since the notification is left to the newer version's own notification.
 *
 * @example
 * const outcome = await importFileVersion(source, { size, maxBytes, now: new Date() }, io);
 */
const importFileVersion = async (source: ImportSource, { size, maxBytes, now }: { size: number; maxBytes: number; now: Date }, io: ImportIo): Promise<ImportOutcome> => {
  const checkpoint = await io.readCheckpoint();
  const outcome: ImportOutcome = { status: 'imported', accepted: 0, rejected: 0, published: 0 };
  if (checkpoint.done) return { ...outcome, status: 'already imported' };
  const refuse = async (error: ImportTooLargeError): Promise<ImportOutcome> => {
    await io.putReport(rejectedReportKey(source.key), JSON.stringify({ source: source.key, error: error.message, rejected: [] }, null, 2));
    await io.saveCheckpoint({ linesPublished: checkpoint.linesPublished, done: true });
    return { ...outcome, status: 'too large' };
  };
  if (size > maxBytes) return refuse(new ImportTooLargeError(size, maxBytes));
  let opened: Awaited<ReturnType<ImportIo['open']>>;
  try {
    opened = await io.open();
  } catch (error) {
    if (error instanceof ObjectChangedError) return { ...outcome, status: 'superseded' };
    throw error;
  }
  if (opened.contentLength !== undefined && opened.contentLength > maxBytes) return refuse(new ImportTooLargeError(opened.contentLength, maxBytes));

  const rejected: RejectedLine[] = [];
  let pending: ImportLine[] = [];
  let line = 0;
  const flush = async (through: number): Promise<void> => {
    if (pending.length === 0) return;
    await io.publish(importEvents(source, pending, now));
    outcome.published += pending.length;
    pending = [];
    await io.saveCheckpoint({ linesPublished: through, done: false });
  };
  try {
    for await (const raw of ndjsonLines(opened.body, maxBytes)) {
      line += 1;
      const judged = judgeImportLine(raw, line);
      if (judged === undefined) continue;
      if (!('order' in judged)) {
        rejected.push(judged);
        continue;
      }
      outcome.accepted += 1;
      if (line <= checkpoint.linesPublished) continue; // published by an earlier delivery
      pending.push(judged);
      if (pending.length >= CHECKPOINT_EVERY_LINES) await flush(line);
    }
  } catch (error) {
    if (error instanceof ImportTooLargeError) return refuse(error);
    throw error;
  }
  await flush(line);
  outcome.rejected = rejected.length;
  if (rejected.length > 0) await io.putReport(rejectedReportKey(source.key), JSON.stringify({ source: source.key, rejected }, null, 2));
  await io.saveCheckpoint({ linesPublished: Math.max(line, checkpoint.linesPublished), done: true });
  return outcome;
};

/**
 * A deterministic order id for one line of one version of an import file (uuid-shaped, from SHA-256):
 * processing the same file twice places no order twice.
 *
 * @example
 * importOrderId({ bucket, key, eTag }, 12);
 */
const importOrderId = (source: { bucket: string; key: string; eTag: string }, line: number): string =>
  deterministicId(`${source.bucket}/${source.key}#${source.eTag}:${line}`);

/**
 * The correlation id of an imported line: `import:<key>:<line>` when that fits what every consumer accepts
 * (parseOrderEvent: at most 128 characters, no control characters), else the key's SHA-256 prefix in its place
 * (S3 keys run to 1,024 bytes: S3 user guide, "Naming Amazon S3 objects"); the import's log line names the key.
 */
const importCorrelationId = (key: string, line: number): string => {
  const readable = `import:${key}:${line}`;
  if (checkString(readable, 'correlationId', { max: 128 }, [])) return readable;
  return `import:sha256-${createHash('sha256').update(key).digest('hex').slice(0, 32)}:${line}`;
};

/**
 * The OrderPlaced events of an import's valid lines.
 *
 * @example
 * await publishOrderEvents(topicArn, importEvents(source, parsed.accepted, new Date()));
 */
const importEvents = (source: { bucket: string; key: string; eTag: string }, lines: readonly ImportLine[], now: Date): OrderPlacedEvent[] =>
  lines.map(({ line, order }) =>
    orderPlacedEvent(order, { orderId: importOrderId(source, line), correlationId: importCorrelationId(source.key, line), now }),
  );

/** Where the report of an import's rejected lines goes (outside the `.ndjson` suffix filter: no re-trigger). */
const rejectedReportKey = (key: string): string => `rejected/${key}.json`;

export { ImportTooLargeError, importFileVersion, ndjsonLines, parseImport, importOrderId, importEvents, rejectedReportKey };

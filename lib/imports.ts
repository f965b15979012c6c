import { createHash } from 'node:crypto';
import type { FieldError } from './domain/errors.ts';
import { InvalidOrderError } from './domain/errors.ts';
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

/**
 * Splits an NDJSON import into valid orders and rejected lines (1-based line numbers, blank lines skipped).
 * A bad line never stops the import: it is reported with the fields at fault.
 *
 * @example
 * const { accepted, rejected } = parseImport(await getObjectText(bucket, key));
 */
const parseImport = (text: string): ParsedImport => {
  const accepted: ImportLine[] = [];
  const rejected: RejectedLine[] = [];
  // A UTF-8 byte order mark (Windows editors write one) is not JSON: drop it, or line 1 would be rejected.
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    try {
      accepted.push({ line, order: parseOrderInput(parseJsonText(raw)) });
    } catch (error) {
      const fields = error instanceof InvalidOrderError ? error.fields : [{ field: '(line)', message: 'is not valid JSON' }];
      rejected.push({ line, fields });
    }
  });
  return { accepted, rejected };
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

export type { ImportLine, RejectedLine, ParsedImport };
export { parseImport, importOrderId, importEvents, rejectedReportKey };

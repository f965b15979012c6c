import '../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { ImportTooLargeError, importEvents, importOrderId, ndjsonLines, parseImport, rejectedReportKey } from '#lib/imports.ts';
import { orderInput } from '../helpers/arbitraries.ts';

const source = { bucket: 'orderflow-dev-imports-123456789012', key: 'incoming/2026-11-22/black friday #1.ndjson', eTag: '9b2cf535f27731c974343645a3985328' };
const digital = { customerId: 'c-77', items: [{ sku: 'EBOOK-9', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital' };
const now = new Date('2026-11-22T11:02:49.000Z');
/** Characters an S3 key may hold, control characters and astral ones included. */
const keyCharacter = fc.oneof(fc.constantFrom('a', 'Z', '0', '/', '+', '%', ' ', '#', 'é', '😀', '中'), fc.constantFrom('\u0000', '\u0007', '\n', '\u007f', '\u0085'));

describe('Lib: imports', () => {
  describe('parseImport', () => {
    it('splits NDJSON into valid orders and rejected lines, 1-based, skipping blank lines', () => {
      // Prepare
      const text = [JSON.stringify(digital), '', '{"customerId":"c-1"', JSON.stringify({ ...digital, items: [] }), '   ', `${JSON.stringify(digital)}\r`, ''].join('\n');

      // Act
      const { accepted, rejected } = parseImport(text);

      // Assess
      expect(accepted).toEqual([
        { line: 1, order: digital },
        { line: 6, order: digital },
      ]);
      expect(rejected).toEqual([
        { line: 3, fields: [{ field: '(line)', message: 'is not valid JSON' }] },
        { line: 4, fields: [{ field: 'items', message: 'must hold at least one item' }] },
      ]);
    });

    it('accepts a first line behind a UTF-8 byte order mark (files saved by Windows editors start with one)', () => {
      // Act
      const { accepted, rejected } = parseImport(`\uFEFF${JSON.stringify(digital)}\n${JSON.stringify(digital)}\n`);

      // Assess
      expect(rejected).toEqual([]);
      expect(accepted.map((entry) => entry.line)).toEqual([1, 2]);
    });

    it('accounts for every non-blank line exactly once, whatever the lines hold', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(orderInput.map((order) => JSON.stringify(order)), fc.string(), fc.json()), { maxLength: 30 }), (lines) => {
          // Act
          const { accepted, rejected } = parseImport(lines.join('\n'));

          // Assess
          const seen = [...accepted.map((entry) => entry.line), ...rejected.map((entry) => entry.line)].sort((a, b) => a - b);
          const expected = lines.flatMap((line) => line.split('\n')).flatMap((line, index) => (line.trim() === '' ? [] : [index + 1]));
          expect(seen).toEqual(expected);
        }),
      );
    });
  });

  describe('importOrderId', () => {
    it('is uuid-shaped and deterministic per file version and line', () => {
      // Act
      const id = importOrderId(source, 3);

      // Assess
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(importOrderId({ ...source }, 3)).toBe(id);
      expect(importOrderId(source, 4)).not.toBe(id);
      expect(importOrderId({ ...source, eTag: 'another-version' }, 3)).not.toBe(id);
      expect(importOrderId({ ...source, key: 'incoming/other.ndjson' }, 3)).not.toBe(id);
    });
  });

  describe('importEvents', () => {
    it('builds one OrderPlaced per accepted line, with its deterministic id and a correlation id naming the line', () => {
      // Prepare
      const { accepted } = parseImport(`${JSON.stringify(digital)}\n\n${JSON.stringify(digital)}`);

      // Act
      const events = importEvents(source, accepted, now);

      // Assess
      expect(events.map((event) => [event.orderId, event.eventId, event.correlationId])).toEqual([
        [importOrderId(source, 1), `${importOrderId(source, 1)}:OrderPlaced`, 'import:incoming/2026-11-22/black friday #1.ndjson:1'],
        [importOrderId(source, 3), `${importOrderId(source, 3)}:OrderPlaced`, 'import:incoming/2026-11-22/black friday #1.ndjson:3'],
      ]);
      expect(events[0]?.order).toMatchObject({ ...digital, totalCents: 999, placedAt: now.toISOString() });
    });

    it('builds events every consumer accepts, whatever the key (S3 keys run to 1,024 bytes)', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ unit: keyCharacter, minLength: 1, maxLength: 40 }),
            fc.string({ unit: 'grapheme-ascii', minLength: 110, maxLength: 1024 }),
            fc.tuple(fc.string({ unit: keyCharacter, minLength: 1, maxLength: 8 }), fc.integer({ min: 20, max: 120 })).map(([part, times]) => part.repeat(times)),
          ),
          fc.integer({ min: 1, max: 1_000_000 }),
          (key, line) => {
          // Act
          const [event] = importEvents({ ...source, key }, [{ line, order: digital as never }], now);

          // Assess
          expect(parseOrderEvent(JSON.stringify(event))).toEqual(event);
          },
        ),
      );
    });

    it('keeps correlation ids of long keys distinct per file and line', () => {
      // Prepare
      const longKey = `incoming/${'x'.repeat(200)}.ndjson`;

      // Act
      const ids = [1, 2].map((line) => importEvents({ ...source, key: longKey }, [{ line, order: digital as never }], now)[0]?.correlationId);
      const other = importEvents({ ...source, key: `${longKey}.2` }, [{ line: 1, order: digital as never }], now)[0]?.correlationId;

      // Assess
      expect(new Set([...ids, other]).size).toBe(3);
      for (const id of [...ids, other]) expect(id?.length).toBeLessThanOrEqual(128);
    });
  });

  describe('rejectedReportKey', () => {
    it('never ends in .ndjson, so writing the report does not trigger another import', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1 }), (key) => {
          expect(rejectedReportKey(`${key}.ndjson`).endsWith('.ndjson')).toBe(false);
          expect(rejectedReportKey(key)).toBe(`rejected/${key}.json`);
        }),
      );
    });
  });

  describe('ndjsonLines', () => {
    const collect = async (chunks: Iterable<Uint8Array>, maxBytes = 1_000_000): Promise<string[]> => {
      const lines: string[] = [];
      for await (const line of ndjsonLines((async function* () { yield* chunks; })(), maxBytes)) lines.push(line);
      return lines;
    };
    /** Cuts bytes at the given offsets: a cut may fall inside a multi-byte character. */
    const cut = (bytes: Buffer, offsets: number[]): Buffer[] => {
      const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
      return [...points, bytes.length].map((end, index) => bytes.subarray(index === 0 ? 0 : points[index - 1], end));
    };

    it('yields the same lines as splitting the whole text, however the bytes are chunked (multi-byte characters cut included)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }).map((line) => line.replace(/\n/g, '')), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), async (lines, trailingNewline, offsets) => {
          // Prepare
          const text = lines.join('\n') + (trailingNewline ? '\n' : '');
          const expected = text.split('\n');
          if (trailingNewline || expected.at(-1) === '') expected.pop();

          // Act
          const got = await collect(cut(Buffer.from(text), offsets));

          // Assess
          expect(got).toEqual(expected);
        }),
      );
    });

    it('throws ImportTooLargeError once more than maxBytes arrived, before reading further', async () => {
      // Prepare
      let pulled = 0;
      const chunks = (function* () {
        for (let index = 0; index < 100; index++) {
          pulled += 1;
          yield Buffer.from('{"a":1}\n'.repeat(16));
        }
      })();

      // Act + Assess: 128 bytes a chunk, limit 300: the third chunk crosses it
      await expect(collect(chunks, 300)).rejects.toBeInstanceOf(ImportTooLargeError);
      expect(pulled).toBe(3);
    });
  });
});

import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { parseS3Notification } from '#lib/events/s3-notification.ts';
import { bodyOf, firstRecord } from '../../helpers/fixtures.ts';

/** How S3 writes a key into an event: URL-encoded, spaces as '+', '/' kept (S3 user guide, "Event message structure"). */
const s3EncodeKey = (key: string): string => encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');

const notificationFor = (key: string): string =>
  JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'orderflow-dev-imports-123456789012' }, object: { key: s3EncodeKey(key), size: 10, eTag: 'e' } } }] });

describe('Lib: events/s3-notification', () => {
  it('parses the stored invoice notification', () => {
    // Prepare
    const body = firstRecord('s3-invoice-created').body;

    // Act
    const objects = parseS3Notification(body);

    // Assess
    expect(objects).toEqual([
      {
        bucket: 'orderflow-dev-documents-123456789012',
        key: 'documents/invoices/7c9e6679-7425-40de-944b-e07fc1f90ae7.json',
        size: 612,
        eTag: expect.stringMatching(/^[0-9a-f]{32}$/),
        sequencer: 'EDF4172E5E7EBBC0A7',
        eventName: 'ObjectCreated:Put',
      },
    ]);
  });

  it('decodes URL-encoded keys: "+" is a space, %XX a character', () => {
    // Prepare
    const body = firstRecord('s3-import-created').body;

    // Act
    const [object] = parseS3Notification(body);

    // Assess
    expect(bodyOf<{ Records: { s3: { object: { key: string } } }[] }>(firstRecord('s3-import-created')).Records[0]?.s3.object.key).toBe(
      'incoming/2026-11-22/black+friday+%231.ndjson',
    );
    expect(object?.key).toBe('incoming/2026-11-22/black friday #1.ndjson');
  });

  it('gives back any key exactly, once S3 has encoded it (including "+", "%" and non-ASCII characters)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((key) => key.isWellFormed()), (key) => {
        // Act
        const [object] = parseS3Notification(notificationFor(key));

        // Assess
        expect(object?.key).toBe(key);
      }),
    );
  });

  it('answers no objects for the s3:TestEvent S3 sends when a notification is configured', () => {
    expect(parseS3Notification(firstRecord('s3-test-event').body)).toEqual([]);
  });

  it('throws InvalidEventError naming what is wrong for a body that is not an S3 notification', () => {
    expect(() => parseS3Notification('not json')).toThrow('Invalid S3 notification: (body) is not JSON');
    expect(() => parseS3Notification('{"Records":{}}')).toThrow('Invalid S3 notification: Records must be an array');
    expect(() => parseS3Notification('{"Records":[{"s3":{"bucket":{}}}]}')).toThrow('Invalid S3 notification: Records[0].s3 must name a bucket and an object key');
  });

  it('throws InvalidEventError naming the key when its encoding is malformed', () => {
    // Prepare
    const body = JSON.stringify({ Records: [{ s3: { bucket: { name: 'b' }, object: { key: 'documents/invoices/%E0%A4%A.json' } } }] });

    // Act + Assess
    expect(() => parseS3Notification(body)).toThrow(InvalidEventError);
    expect(() => parseS3Notification(body)).toThrow(/Records\[0\]\.s3\.object\.key/);
  });

  it('throws only InvalidEventError on any input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((records) => JSON.stringify({ Records: [records] }))), (body) => {
        // Act
        let thrown: unknown;
        try {
          parseS3Notification(body);
        } catch (error) {
          thrown = error;
        }

        // Assess
        expect(thrown === undefined || thrown instanceof InvalidEventError, String(thrown)).toBe(true);
      }),
    );
  });

  it('defaults size, eTag, sequencer and eventName when S3 leaves them out', () => {
    expect(parseS3Notification('{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}')).toEqual([
      { bucket: 'b', key: 'k', size: 0, eTag: '', sequencer: '', eventName: 'ObjectCreated:Put' },
    ]);
  });

  it("gives each object its own event's sequencer, and '' for one that is not a string", () => {
    // Prepare: S3 sends one record a message, but a body may hold several
    const invoice = bodyOf<{ Records: unknown[] }>(firstRecord('s3-invoice-created')).Records[0];
    const label = bodyOf<{ Records: unknown[] }>(firstRecord('s3-label-created')).Records[0];
    const numeric = { s3: { bucket: { name: 'b' }, object: { key: 'k', sequencer: 42 } } };

    // Act
    const objects = parseS3Notification(JSON.stringify({ Records: [invoice, label, numeric] }));

    // Assess
    expect(objects.map((object) => object.sequencer)).toEqual(['EDF4172E5E7EBBC0A7', '5C59E1085EC2E45509', '']);
  });
});

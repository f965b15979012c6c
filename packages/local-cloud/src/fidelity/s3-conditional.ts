/**
 * S3 conditional writes, which fauxqs 2.4.1 ignores (it overwrites whatever the headers say):
 * `If-None-Match: *` and `If-Match: <etag>` on PutObject, CopyObject and CompleteMultipartUpload
 * (S3 user guide, "How to prevent object overwrites with conditional writes"):
 *
 * - `If-None-Match: *` and the key exists: 412 PreconditionFailed; the only value S3 accepts is `*`.
 * - `If-Match: <etag>` and the object's ETag differs: 412 PreconditionFailed; no object at all: 404 NoSuchKey.
 *
 * The edge evaluates them against the object fauxqs holds, then writes, both while holding the key's
 * lock (key-locks.ts): concurrent conditional writes of one key through the edge are serialized and
 * exactly one `If-None-Match: *` wins (S3 answers the losers 412, or 409 ConditionalRequestConflict
 * while the winner is still in progress; the local cloud always answers 412).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { escapeXml } from '../util/xml.ts';

interface WritePreconditions {
  ifNoneMatch?: string;
  ifMatch?: string;
}

/** What the key holds now, as a HEAD tells it. */
interface CurrentObject {
  exists: boolean;
  /** Quoted, as S3 writes it: `"9b2cf535f27731c974343645a3985328"`. */
  etag?: string;
}

interface PreconditionFailure {
  statusCode: number;
  code: string;
  message: string;
  /** S3's `<Condition>` element of a 412 (`If-None-Match`, `If-Match`). */
  condition?: string;
  /** S3's `<Header>` element of a 501. */
  header?: string;
}

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold';

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}

/** The conditional-write headers of a request; undefined when it carries none. */
function writePreconditions(headers: IncomingHttpHeaders): WritePreconditions | undefined {
  const ifNoneMatch = headerValue(headers, 'if-none-match');
  const ifMatch = headerValue(headers, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  return { ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }), ...(ifMatch === undefined ? {} : { ifMatch }) };
}

/** `"abc"`, `abc` and `W/"abc"` name the same ETag. */
function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** `If-Match` may list several ETags (RFC 9110 §13.1.1). */
function etagMatches(condition: string, etag: string | undefined): boolean {
  if (condition === '*') return true;
  if (etag === undefined) return false;
  const current = normalizeEtag(etag);
  return condition.split(',').some((candidate) => normalizeEtag(candidate) === current);
}

/**
 * Evaluates the preconditions against the current object, If-Match first (RFC 9110 §13.2.2).
 * Undefined: the write may go ahead.
 */
function evaluateWritePreconditions(preconditions: WritePreconditions, current: CurrentObject): PreconditionFailure | undefined {
  const { ifMatch, ifNoneMatch } = preconditions;
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
    return {
      statusCode: 501,
      code: 'NotImplemented',
      message: 'A header you provided implies functionality that is not implemented (If-None-Match accepts only *)',
      header: 'If-None-Match',
    };
  }
  if (ifMatch !== undefined) {
    if (!current.exists) return { statusCode: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' };
    if (!etagMatches(ifMatch, current.etag)) return { statusCode: 412, code: 'PreconditionFailed', message: PRECONDITION_FAILED, condition: 'If-Match' };
  }
  if (ifNoneMatch === '*' && current.exists) {
    return { statusCode: 412, code: 'PreconditionFailed', message: PRECONDITION_FAILED, condition: 'If-None-Match' };
  }
  return undefined;
}

/** S3's error body for a failed precondition, with its `<Condition>` (412) or `<Header>` (501). */
function preconditionFailureXml(failure: PreconditionFailure, resource: string, requestId: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Error><Code>${escapeXml(failure.code)}</Code><Message>${escapeXml(failure.message)}</Message>`,
    failure.condition === undefined ? '' : `<Condition>${escapeXml(failure.condition)}</Condition>`,
    failure.header === undefined ? '' : `<Header>${escapeXml(failure.header)}</Header>`,
    failure.code === 'NoSuchKey' ? `<Key>${escapeXml(resource.split('/').slice(2).join('/'))}</Key>` : '',
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${escapeXml(requestId)}</RequestId><HostId>local-edge</HostId></Error>`,
  ].join('');
}

export { evaluateWritePreconditions, preconditionFailureXml, writePreconditions };


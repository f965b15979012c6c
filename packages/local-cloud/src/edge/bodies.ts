/**
 * Request and response bodies read whole: kept apart from proxy.ts so a function's worker thread
 * (runtime/function-worker.ts) can read its SDK requests' bodies without loading the edge's HTTP code.
 */
import { Readable } from 'node:stream';

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** An SDK request's body (string, bytes or a stream) as one buffer; undefined when it has none. */
async function bodyOf(body: unknown): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable) return readBody(body);
  throw new TypeError(`in-process edge request: unsupported body type ${Object.prototype.toString.call(body)}`);
}

export { bodyOf, readBody };

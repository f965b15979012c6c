import { getEventListeners } from 'node:events';
import type { RequestListener } from 'node:http';
import { describe, expect, it } from 'vitest';
import { exchangeInMemory } from '../src/edge/in-memory-exchange.ts';

/** Reads the request's body, then answers what it saw. */
const echo: RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    res.setHeader('X-Seen', `${req.method} ${req.url} ${req.headers['x-amz-target']} ${req.socket.remoteAddress}`);
    res.writeHead(201, { 'content-type': 'application/x-amz-json-1.0' });
    res.write(Buffer.concat(chunks));
    res.end('!');
  });
};

describe('In-memory exchange with the edge listener', () => {
  it("hands the listener a request with Node's fields and answers its status, headers and body", async () => {
    // Act
    const answer = await exchangeInMemory(echo, { method: 'POST', path: '/?a=1', headers: { 'X-Amz-Target': 'DynamoDB_20120810.GetItem', host: '127.0.0.1:4566' }, payload: Buffer.from('{"x":1}') });

    // Assess
    expect(answer).toEqual({
      statusCode: 201,
      statusMessage: 'Created',
      headers: { 'x-seen': 'POST /?a=1 DynamoDB_20120810.GetItem 127.0.0.1', 'content-type': 'application/x-amz-json-1.0' },
      body: Buffer.from('{"x":1}!'),
    });
  });

  it("takes writeHead's status message and Node's flat [name, value] header list", async () => {
    const answer = await exchangeInMemory((_req, res) => void res.writeHead(404, 'Nope', ['X-One', '1', 'X-Two', '2']).end(), { method: 'GET', path: '/', headers: {} });

    expect(answer).toMatchObject({ statusCode: 404, statusMessage: 'Nope', headers: { 'x-one': '1', 'x-two': '2' }, body: Buffer.alloc(0) });
  });

  it('on abort, closes the response as a client gone, rejects with an AbortError and leaves no listener on the signal', async () => {
    // Prepare: a listener that never answers (a long poll), and notes the close
    const controller = new AbortController();
    let sawClose = false;
    const pending = exchangeInMemory((_req, res) => void res.once('close', () => (sawClose = !res.writableFinished)), { method: 'POST', path: '/', headers: {} }, controller.signal);

    // Act
    controller.abort();

    // Assess
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(sawClose).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('removes its abort listener once answered (a poller signal lives as long as the poller)', async () => {
    const controller = new AbortController();

    await exchangeInMemory(echo, { method: 'GET', path: '/', headers: {} }, controller.signal);

    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects, naming the request, when the listener destroys the response without ending it', async () => {
    await expect(exchangeInMemory((_req, res) => void res.destroy(), { method: 'PUT', path: '/bucket/key', headers: {} })).rejects.toThrow(
      'the listener closed the in-memory response to PUT /bucket/key before ending it',
    );
  });
});

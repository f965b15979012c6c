/**
 * POST /orders over keep-alive connections (node:http or node:https), one request per arrival, with
 * a timeout; answers `{ status, orderId }`. Used by the sender worker.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { SendOutcome } from './open-loop.ts';

interface OrderSender {
  send(body: string, headers: Record<string, string>): Promise<SendOutcome>;
  close(): void;
}

/**
 * @example
 * const sender = createOrderSender('http://127.0.0.1:3000', { maxSockets: 1000, timeoutMs: 30_000 });
 * const { status, orderId } = await sender.send(JSON.stringify(order), { 'x-correlation-id': 'load-1' });
 */
function createOrderSender(apiUrl: string, options: { maxSockets: number; timeoutMs: number }): OrderSender {
  const url = new URL('orders', apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
  const secure = url.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets })
    : new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets });
  const request = secure ? httpsRequest : httpRequest;

  const send = (body: string, headers: Record<string, string>): Promise<SendOutcome> =>
    new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: SendOutcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const payload = Buffer.from(body);
      const outgoing = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
          timeout: options.timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            let orderId: string | undefined;
            if (status === 202) {
              try {
                const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderId?: unknown };
                if (typeof parsed.orderId === 'string') orderId = parsed.orderId;
              } catch {
                // A 202 without a JSON body: counted as accepted without an id (reported as an error below).
              }
            }
            settle({ status, ...(orderId === undefined ? {} : { orderId }), ...(status === 202 && orderId === undefined ? { error: '202 without an orderId' } : {}) });
          });
          response.on('error', (error) => settle({ status: 0, error: error.message }));
        },
      );
      outgoing.on('timeout', () => {
        outgoing.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
      });
      outgoing.on('error', (error) => settle({ status: 0, error: error.message }));
      outgoing.end(payload);
    });

  return { send, close: () => agent.destroy() };
}

export { createOrderSender };


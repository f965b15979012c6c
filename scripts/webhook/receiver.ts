/**
 * A partner's webhook for SNS, as small as a real one: listens on 127.0.0.1, checks every message's signature
 * (lib/shipment-notices.ts verifySnsMessage: certificate from SigningCertURL, only from a trusted origin), confirms
 * a SubscriptionConfirmation by GETting its SubscribeURL, and answers each Notification. Unsigned or forged messages
 * get 403 and are never acted on. `npm run webhook` (cli.ts) runs it against `npm start`; the tests run it in-process.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySnsMessage } from '../../lib/shipment-notices.ts';

interface WebhookMessage {
  type: string;
  headers: IncomingHttpHeaders;
  /** The posted JSON (SNS's envelope), or `{ Message: body }` for a raw delivery. */
  message: Record<string, unknown>;
  /** The status it was answered. */
  status: number;
}

interface WebhookReceiver {
  url: string;
  /** Every message received, in order. */
  received: WebhookMessage[];
  close(): Promise<void>;
}

interface ReceiverOptions {
  /** 0 = a free port. */
  port: number;
  /** Origins whose SigningCertURL is trusted beside AWS's (the local cloud's edge). */
  trustedOrigins: string[];
  /** The status for a verified Notification (default 200): e.g. 500 to watch SNS retry and dead-letter. */
  notificationStatus?: (message: Record<string, unknown>) => number;
  log?: (line: string) => void;
}

const readBody = (req: import('node:http').IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

/**
 * Starts the receiver; resolves once it listens.
 *
 * @example
 * const webhook = await startWebhookReceiver({ port: 0, trustedOrigins: ['http://127.0.0.1:4566'] });
 */
async function startWebhookReceiver(options: ReceiverOptions): Promise<WebhookReceiver> {
  const log = options.log ?? ((): void => undefined);
  const received: WebhookMessage[] = [];
  const certificates = new Map<string, Promise<string>>();
  // A real receiver caches the certificate by URL.
  const fetchCertificate = (url: string): Promise<string> => {
    let pem = certificates.get(url);
    if (pem === undefined) {
      pem = fetch(url).then((response) => response.text());
      certificates.set(url, pem);
    }
    return pem;
  };
  const server: Server = createServer((req, res) => {
    void (async (): Promise<void> => {
      const type = String(req.headers['x-amz-sns-message-type'] ?? '');
      const body = await readBody(req);
      const raw = req.headers['x-amz-sns-rawdelivery'] === 'true';
      let message: Record<string, unknown>;
      try {
        message = raw ? { Message: body } : (JSON.parse(body) as Record<string, unknown>);
      } catch {
        message = {};
      }
      const answer = (status: number, why: string): void => {
        received.push({ type, headers: req.headers, message, status });
        log(`[webhook] ${type || 'unknown'} ${String(message.MessageId ?? '')} -> ${status} (${why})`);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status, why }));
      };
      // A raw delivery carries no signature: accept it only on a subscription you made raw yourself.
      if (!raw && !(await verifySnsMessage(message, { trustedOrigins: options.trustedOrigins, fetchCertificate }))) return answer(403, 'signature not verified');
      if (type === 'SubscriptionConfirmation') {
        const subscribeUrl = new URL(String(message.SubscribeURL));
        if (!options.trustedOrigins.includes(subscribeUrl.origin) && !/^sns\.[a-z0-9-]+\.amazonaws\.com$/.test(subscribeUrl.hostname)) return answer(403, 'SubscribeURL not trusted');
        const confirmed = await fetch(subscribeUrl);
        return answer(confirmed.ok ? 200 : 502, confirmed.ok ? 'subscription confirmed' : `ConfirmSubscription answered ${confirmed.status}`);
      }
      if (type === 'Notification') {
        const status = options.notificationStatus?.(message) ?? 200;
        return answer(status, `${String(message.Subject ?? '')} ${String(message.Message ?? '')}`);
      }
      return answer(200, 'ignored');
    })().catch((error: unknown) => {
      log(`[webhook] failed: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sns`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export { startWebhookReceiver };
export type { WebhookReceiver };

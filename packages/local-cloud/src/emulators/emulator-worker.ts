/**
 * The emulators' own thread (emulator-thread.ts starts it): fauxqs, kinesalite and dynalite run here, off the
 * event loop of the edge, the functions and the pollers. Requests arrive as messages, are handed to each emulator's
 * request listener in memory (light-my-request), and their answers go back as messages.
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { IncomingHttpHeaders } from 'node:http';
import { inject } from 'light-my-request';
import { flatHeaders } from '../edge/proxy.ts';
import { deadLetterSources, type InspectedQueue } from '../fidelity/fauxqs-dlq-origin.ts';
import { applySnsDeliveryPolicyPatch, registerDeliveryCheck } from '../fidelity/sns-delivery-policy.ts';
import { startDynalite, startFauxqsEmulator, startKinesalite, type RunningEmulator } from './servers.ts';
import type { EmulatorName, ThreadReply, ThreadRequest, WorkerSettings } from './emulator-thread.ts';

if (parentPort === null) throw new Error('emulator-worker.ts runs as a worker thread (emulator-thread.ts)');
const port = parentPort;
const settings = workerData as WorkerSettings;
const log = (line: string): void => port.postMessage({ kind: 'log', line } satisfies ThreadReply);

/** The deliveries the queue policies refuse (`topic\nqueue`), sent by the edge's thread once IAM has decided them. */
let refused = new Set<string>();
let dropRefused = false;

async function main(): Promise<void> {
  const started: RunningEmulator[] = [];
  let emulators: Record<EmulatorName, RunningEmulator>;
  let inspect: (name: string) => InspectedQueue | undefined;
  try {
    const [fauxqs, kinesalite, dynalite] = await Promise.all([
      startFauxqsEmulator(settings.paths.fauxqs, settings.region, log).then((emulator) => (started.push(emulator), emulator)),
      startKinesalite(settings.paths.kinesalite, settings.region, settings.accountId).then((emulator) => (started.push(emulator), emulator)),
      startDynalite(settings.paths.dynalite, settings.region, settings.accountId).then((emulator) => (started.push(emulator), emulator)),
    ]);
    emulators = { fauxqs, kinesalite, dynalite };
    if (settings.checkDeliveries === true) {
      for (const patch of await applySnsDeliveryPolicyPatch()) log(`[emulators] patched ${patch}`);
      registerDeliveryCheck(join(settings.paths.fauxqs, 'fauxqs.db'), (topicArn, queueArn) => {
        if (!refused.has(`${topicArn}\n${queueArn}`)) return true;
        port.postMessage({ kind: 'delivery-refused', topicArn, queueArn } satisfies ThreadReply);
        return !dropRefused;
      });
    }
    inspect = (name) => fauxqs.server.inspectQueue(name) as InspectedQueue | undefined;
  } catch (error) {
    await Promise.allSettled(started.map((emulator) => emulator.stop()));
    port.postMessage({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies ThreadReply);
    return;
  }

  port.on('message', (message: ThreadRequest) => {
    void answer(message).then(
      (reply) => {
        port.postMessage(reply);
        // Stopped: with the port closed nothing is left in this thread's loop, so it ends by itself (emulator-thread.ts).
        if (reply.kind === 'stopped') port.close();
      },
      (error: unknown) => port.postMessage({ kind: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) } satisfies ThreadReply),
    );
  });

  async function answer(message: ThreadRequest): Promise<ThreadReply> {
    switch (message.kind) {
      case 'request': {
        const emulator = emulators[message.target];
        if (emulator.dispatch === undefined) throw new Error(`${message.target} has no request listener`);
        const response = await inject(emulator.dispatch, {
          method: message.method as 'GET',
          url: message.path,
          headers: message.headers,
          remoteAddress: '127.0.0.1',
          ...(message.body === undefined ? {} : { payload: Buffer.from(message.body) }),
        });
        const headers = flatHeaders(response.headers as IncomingHttpHeaders);
        return { kind: 'response', id: message.id, statusCode: response.statusCode, headers, body: new Uint8Array(response.rawPayload) };
      }
      case 'dead-letter-sources':
        return { kind: 'dead-letter-sources', id: message.id, sources: [...deadLetterSources(inspect, message.queueName)] };
      case 'delivery-refusals':
        refused = new Set(message.refused.map(([topicArn, queueArn]) => `${topicArn}\n${queueArn}`));
        dropRefused = message.drop;
        return { kind: 'done', id: message.id };
      case 'stop': {
        const results = await Promise.allSettled(started.map((emulator) => emulator.stop()));
        const failed = results.find((result) => result.status === 'rejected');
        return { kind: 'stopped', id: message.id, ...(failed ? { message: String(failed.reason) } : {}) };
      }
    }
  }

  port.postMessage({
    kind: 'ready',
    ports: { fauxqs: emulators.fauxqs.port, kinesalite: emulators.kinesalite.port, dynalite: emulators.dynalite.port },
  } satisfies ThreadReply);
}

void main();

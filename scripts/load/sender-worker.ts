/** The worker-thread entry of the load sender (see sender.ts): wiring between the thread and runSender. */
import { parentPort, workerData } from 'node:worker_threads';
import { runSender, type ParentMessage, type SenderConfig, type WorkerMessage } from './sender.ts';

const port = parentPort;
if (!port) throw new Error('sender-worker.ts runs as a worker thread (startSender starts it)');

const drained = new Set<number>();
let aborted = false;
port.on('message', (message: ParentMessage) => {
  if (message.type === 'drained') drained.add(message.phase);
  else aborted = true;
});
const post = (message: WorkerMessage): void => port.postMessage(message);

runSender(workerData as SenderConfig, {
  onRecords: (records) => post({ type: 'records', records }),
  onPhaseEnd: (window) => post({ type: 'phase', window }),
  isDrained: (phase) => drained.has(phase),
  isAborted: () => aborted,
})
  .then((summary) => {
    post({ type: 'done', summary });
    port.close();
  })
  .catch((error: unknown) => {
    post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    port.close();
  });

/**
 * The child-process entry of the load sender (see sender.ts): wiring between the process and runSender. A process of
 * its own, not a thread of the run's: the in-process local cloud's peak RSS is then the cloud's alone.
 */
import { runSender, type ParentMessage, type SenderConfig, type SenderMessage } from './sender.ts';

if (process.send === undefined) throw new Error('sender-process.ts runs as a child process with an IPC channel (startSender forks it)');
const post = (message: SenderMessage): void => void process.send?.(message);

const drained = new Set<number>();
let aborted = false;
let finished = false;
// The run that forked this process is gone (killed, crashed): stop sending at once, nobody reads the answers.
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

// Ctrl-C reaches this process too (the terminal signals the whole group): the run handles it, and aborts this
// sender through the channel, so its report still gets the answers already in.
process.on('SIGINT', () => undefined);

process.once('message', (config: SenderConfig) => {
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'drained') drained.add(message.phase);
    else aborted = true;
  });
  runSender(config, {
    onRecords: (records) => post({ type: 'records', records }),
    onPhaseEnd: (window) => post({ type: 'phase', window }),
    isDrained: (phase) => drained.has(phase),
    isAborted: () => aborted,
  })
    .then((summary) => post({ type: 'done', summary: { ...summary, peakRssBytes: process.resourceUsage().maxRSS * 1024 } }))
    .catch((error: unknown) => post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }))
    .finally(() => {
      finished = true;
      process.disconnect();
    });
});

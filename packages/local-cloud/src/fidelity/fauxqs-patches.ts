/**
 * Runtime fixes for fauxqs bugs that lose data or waste the machine, each applied only while the bug is present.
 *
 * fauxqs 2.4.1, `PersistenceManager.updateMessageReady` (called by ChangeMessageVisibility with
 * VisibilityTimeout 0) writes NULL into `sqs_messages.approximate_receive_count`, a NOT NULL
 * column: the call answers 500 after the message has left the in-flight set and before it is
 * back in the queue, so the message is gone until a restart. AWS makes it visible again at once
 * ("ChangeMessageVisibility ... 0 ... immediately visible"), which Lambda-style retries rely on.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';

interface PollWaiter {
  resolve(): void;
  timer: ReturnType<typeof setTimeout>;
}

interface SqsQueueLike {
  pollWaiters: PollWaiter[];
  messages: unknown[];
  isFifo(): boolean;
  hasAvailableFifoMessages(): boolean;
  getAttribute(name: string): unknown;
  processTimers(): void;
  notifyWaiters(): void;
  dequeue(...args: unknown[]): unknown[];
}

interface PersistenceManagerLike {
  db: DatabaseSync;
  updateMessageReady(messageId: string): void;
  prepareStatements(): unknown;
}

/** The broken implementation resets every column of the in-flight statement to NULL. */
const BROKEN_READY = /updateMessageInflight\.run\(null,\s*null,\s*null,\s*null,/;

/** The broken implementation resolves every waiting long poll at once. */
const WAKE_ALL = /while\s*\(this\.pollWaiters\.length > 0\)/;

const readyStatements = new WeakMap<DatabaseSync, StatementSync>();

/** Queues with a wake already scheduled for the end of the current synchronous run. */
const wakeScheduled = new WeakSet<SqsQueueLike>();

/** A receive now would get something: a ready message (standard) or an unlocked group with one (FIFO). */
function hasReadyMessages(queue: SqsQueueLike): boolean {
  return queue.isFifo() ? queue.hasAvailableFifoMessages() : queue.messages.length > 0;
}

/**
 * Wakes the oldest waiting long poll, once the current synchronous run is over (a SendMessageBatch enqueues up to
 * ten messages, which one receive can take) and only if a message is still there to take.
 */
function wakeOne(queue: SqsQueueLike): void {
  if (queue.pollWaiters.length === 0 || wakeScheduled.has(queue)) return;
  wakeScheduled.add(queue);
  queueMicrotask(() => {
    wakeScheduled.delete(queue);
    if (!hasReadyMessages(queue)) return;
    const waiter = queue.pollWaiters.shift();
    if (waiter === undefined) return;
    clearTimeout(waiter.timer);
    waiter.resolve();
  });
}

async function applyFauxqsPatches(): Promise<string[]> {
  const applied: string[] = [];
  // Not in the package's exports: load the module fauxqs itself loads (same URL, same class).
  const persistenceUrl = new URL('./persistence.js', import.meta.resolve('fauxqs'));
  const { PersistenceManager } = (await import(persistenceUrl.href)) as { PersistenceManager: { prototype: PersistenceManagerLike } };
  const prototype = PersistenceManager.prototype;
  if (BROKEN_READY.test(String(prototype.updateMessageReady))) {
    prototype.updateMessageReady = function updateMessageReady(this: PersistenceManagerLike, messageId: string): void {
      let statement = readyStatements.get(this.db);
      if (statement === undefined) {
        // Back to ready: no receipt handle, no deadline; the receive count and first receive stay.
        statement = this.db.prepare('UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?');
        readyStatements.set(this.db, statement);
      }
      statement.run(messageId);
    };
    applied.push('fauxqs: ChangeMessageVisibility(0) keeps the message (updateMessageReady NOT NULL fix)');
  }
  // fauxqs 2.4.1 opens its database in WAL mode with SQLite's default `synchronous = FULL`: an fsync per commit, and
  // it commits every SendMessage, receive and delete on its own. In WAL mode `synchronous = NORMAL` syncs only at
  // checkpoints and "is safe from corruption"; a commit "might roll back following a power loss or system crash"
  // but not after the process dies (kill -9): the WAL is already in the OS (SQLite "PRAGMA synchronous", "Write-Ahead
  // Logging" §2.4). A local cloud loses nothing to a crashed `npm start` either way (tests/integration/restart.test.ts).
  // The constructor sets WAL and then prepares its statements: set NORMAL there, before any commit.
  const prepareStatements = prototype.prepareStatements;
  if (!String(PersistenceManager).includes('synchronous') && !String(prepareStatements).includes('synchronous')) {
    prototype.prepareStatements = function prepareStatementsWithNormalSync(this: PersistenceManagerLike): unknown {
      if ((this.db.prepare('PRAGMA journal_mode').get() as { journal_mode?: string } | undefined)?.journal_mode === 'wal') {
        this.db.exec('PRAGMA synchronous = NORMAL');
      }
      return prepareStatements.call(this);
    };
    applied.push('fauxqs: SQLite synchronous = NORMAL in WAL mode (no fsync per commit; kill -9 still loses nothing)');
  }
  // fauxqs 2.4.1 moves a message whose visibility timeout expired back to the queue only when something receives
  // from it: until then GetQueueAttributes counts it in flight (a DLQ nobody polls, after a peek, looks empty of
  // visible messages, and `npm run dlq -- redrive` finds nothing to move). SQS counts it visible again at once.
  const storeUrl = new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs'));
  const { SqsQueue } = (await import(storeUrl.href)) as { SqsQueue: { prototype: SqsQueueLike } };
  const getAttribute = SqsQueue.prototype.getAttribute;
  if (!String(getAttribute).includes('processTimers')) {
    SqsQueue.prototype.getAttribute = function getAttributeAfterTimers(this: { processTimers(): void }, name: string): unknown {
      if (name.startsWith('ApproximateNumberOfMessages')) this.processTimers();
      return getAttribute.call(this, name);
    };
    applied.push('fauxqs: GetQueueAttributes counts messages whose visibility timeout expired as visible');
  }
  // fauxqs 2.4.1 resolves EVERY waiting long poll when one message arrives (notifyWaiters): one receive takes it and
  // the others answer empty at once, and their pollers send a new receive: with 30 pollers waiting, one message costs
  // ~30 empty round trips. SQS long polling "eliminate[s] empty responses by allowing Amazon SQS to wait until a
  // message is available in a queue before sending a response" (SQS developer guide, "Amazon SQS short and long
  // polling"). So a notify wakes one waiter; when the receive it makes leaves messages behind (more than it asked
  // for, or other FIFO groups), the next waiter is woken, and so on until the messages or the waiters run out.
  const notifyWaiters = SqsQueue.prototype.notifyWaiters;
  if (WAKE_ALL.test(String(notifyWaiters))) {
    const dequeue = SqsQueue.prototype.dequeue;
    SqsQueue.prototype.notifyWaiters = function notifyOneWaiter(this: SqsQueueLike): void {
      wakeOne(this);
    };
    SqsQueue.prototype.dequeue = function dequeueThenWakeNext(this: SqsQueueLike, ...args: unknown[]): unknown[] {
      const taken = dequeue.apply(this, args);
      wakeOne(this);
      return taken;
    };
    applied.push('fauxqs: an arriving message wakes one waiting long poll, not all of them');
  }
  return applied;
}

export { applyFauxqsPatches };

/**
 * Runtime fixes for fauxqs bugs that lose data, each applied only while the bug is present.
 *
 * fauxqs 2.4.1, `PersistenceManager.updateMessageReady` (called by ChangeMessageVisibility with
 * VisibilityTimeout 0) writes NULL into `sqs_messages.approximate_receive_count`, a NOT NULL
 * column: the call answers 500 after the message has left the in-flight set and before it is
 * back in the queue, so the message is gone until a restart. AWS makes it visible again at once
 * ("ChangeMessageVisibility ... 0 ... immediately visible"), which Lambda-style retries rely on.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';

interface PersistenceManagerLike {
  db: DatabaseSync;
  updateMessageReady(messageId: string): void;
}

/** The broken implementation resets every column of the in-flight statement to NULL. */
const BROKEN_READY = /updateMessageInflight\.run\(null,\s*null,\s*null,\s*null,/;

const readyStatements = new WeakMap<DatabaseSync, StatementSync>();

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
  // fauxqs 2.4.1 moves a message whose visibility timeout expired back to the queue only when something receives
  // from it: until then GetQueueAttributes counts it in flight (a DLQ nobody polls, after a peek, looks empty of
  // visible messages, and `npm run dlq -- redrive` finds nothing to move). SQS counts it visible again at once.
  const storeUrl = new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs'));
  const { SqsQueue } = (await import(storeUrl.href)) as { SqsQueue: { prototype: { getAttribute(name: string): unknown; processTimers(): void } } };
  const getAttribute = SqsQueue.prototype.getAttribute;
  if (!String(getAttribute).includes('processTimers')) {
    SqsQueue.prototype.getAttribute = function getAttributeAfterTimers(this: { processTimers(): void }, name: string): unknown {
      if (name.startsWith('ApproximateNumberOfMessages')) this.processTimers();
      return getAttribute.call(this, name);
    };
    applied.push('fauxqs: GetQueueAttributes counts messages whose visibility timeout expired as visible');
  }
  return applied;
}

export { applyFauxqsPatches };

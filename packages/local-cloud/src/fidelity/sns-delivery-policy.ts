/**
 * SNS → SQS deliveries checked against the queue's policy. fauxqs delivers every confirmed SQS subscription of a
 * topic (its `fanOutToSubscriptions`, fauxqs 2.4.1), whatever the queue policy says; AWS delivers only where the
 * queue policy allows `sns.amazonaws.com` to `sqs:SendMessage` (SNS developer guide, "Fanout to Amazon SQS queues")
 * and otherwise drops the message (it never reaches the queue, and the publisher is not told).
 *
 * fauxqs fans out synchronously: for each subscription, `SnsStore.getSubscription(arn)` and at once
 * `SqsStore.getQueueByArn(subscription.endpoint)`, then enqueues unless that answers nothing. So the subscription
 * last looked up (cleared after the current synchronous run) names the topic of the queue looked up next; a refused
 * delivery answers "no such queue", which fauxqs skips. The check of each fauxqs instance is registered under its
 * SQLite database's path (one per data directory), so several local clouds in one process keep theirs apart.
 */
import { resolve } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

interface SubscriptionLike {
  topicArn: string;
  protocol: string;
  endpoint: string;
}

interface StoreLike {
  persistence?: { db?: DatabaseSync };
}

/** Whether a delivery from `topicArn` to `queueArn` may happen (and, if not, the caller has reported it). */
type DeliveryCheck = (topicArn: string, queueArn: string) => boolean;

const PATCHED = Symbol.for('local-cloud.sns-delivery-policy');
const checks = new Map<string, DeliveryCheck>();
let looking: SubscriptionLike | undefined;

function databaseOf(store: StoreLike): string | undefined {
  try {
    const location = store.persistence?.db?.location();
    return location === undefined || location === null ? undefined : resolve(location);
  } catch {
    return undefined;
  }
}

async function applySnsDeliveryPolicyPatch(): Promise<string[]> {
  const base = import.meta.resolve('fauxqs');
  const { SnsStore } = (await import(new URL('./sns/snsStore.js', base).href)) as { SnsStore: { prototype: Record<string | symbol, unknown> } };
  const { SqsStore } = (await import(new URL('./sqs/sqsStore.js', base).href)) as { SqsStore: { prototype: Record<string | symbol, unknown> } };
  if (SnsStore.prototype[PATCHED] === true) return [];
  const getSubscription = SnsStore.prototype.getSubscription as (this: StoreLike, arn: string) => SubscriptionLike | undefined;
  const getQueueByArn = SqsStore.prototype.getQueueByArn as (this: StoreLike, arn: string) => unknown;
  SnsStore.prototype.getSubscription = function getSubscriptionRemembered(this: StoreLike, arn: string): SubscriptionLike | undefined {
    const subscription = getSubscription.call(this, arn);
    if (subscription?.protocol === 'sqs') {
      looking = subscription;
      queueMicrotask(() => {
        if (looking === subscription) looking = undefined;
      });
    }
    return subscription;
  };
  SqsStore.prototype.getQueueByArn = function getQueueByArnForDelivery(this: StoreLike, arn: string): unknown {
    const subscription = looking;
    if (subscription !== undefined && subscription.endpoint === arn) {
      looking = undefined;
      const database = checks.size === 0 ? undefined : databaseOf(this);
      const check = database === undefined ? undefined : checks.get(database);
      if (check !== undefined && !check(subscription.topicArn, arn)) return undefined;
    }
    return getQueueByArn.call(this, arn);
  };
  SnsStore.prototype[PATCHED] = true;
  return ['fauxqs: SNS delivers to an SQS queue only where the queue policy allows it (with --iam enforce)'];
}

/**
 * Checks the deliveries of the fauxqs instance whose database is `databasePath` until the returned function is called.
 *
 * @example
 * const unregister = registerDeliveryCheck(join(fauxqsDir, 'fauxqs.db'), (topic, queue) => iam.allowsDelivery('sns.amazonaws.com', topic, queue));
 */
function registerDeliveryCheck(databasePath: string, check: DeliveryCheck): () => void {
  const key = resolve(databasePath);
  checks.set(key, check);
  return () => {
    if (checks.get(key) === check) checks.delete(key);
  };
}

export { applySnsDeliveryPolicyPatch, registerDeliveryCheck };

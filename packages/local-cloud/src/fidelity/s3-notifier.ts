/**
 * Delivers S3 event notifications to their SQS queues and SNS topics (fauxqs, called directly).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { NotificationTarget } from './s3-notifications.ts';
import { localClientConfig } from '../util/clients.ts';

interface S3NotifierOptions {
  /** fauxqs' own origin, e.g. http://127.0.0.1:40123. */
  fauxqsEndpoint: string;
  region: string;
  log: (line: string) => void;
  /**
   * Whether the queue's (or topic's) policy lets S3 deliver from the bucket (`aws:SourceArn`); a refused delivery is
   * dropped, as S3 drops it, and reported by the check (edge/iam.ts `allowsDelivery`). None: every delivery happens.
   */
  allowsDelivery?: (bucketArn: string, targetArn: string) => boolean;
}

interface S3Notifier {
  /** Sends one message body to one destination; rejects when it cannot be delivered. */
  send(target: NotificationTarget, body: string): Promise<void>;
  close(): void;
}

/** The subject S3 sets on the messages it publishes to SNS. */
const SNS_SUBJECT = 'Amazon S3 Notification';

/**
 * fauxqs finds a queue from the region and name in its URL, whatever the host, so an ARN maps to
 * `http://sqs.<region>.localhost/<account>/<name>`.
 */
function queueUrlFromArn(arn: string): string {
  const [, , , region, account, name] = arn.split(':');
  return `http://sqs.${region ?? ''}.localhost/${account ?? ''}/${name ?? ''}`;
}

/** The bucket ARN of an S3 event message (`Records[0].s3.bucket.arn`), or of its test event (`Bucket`). */
function bucketArnOf(body: string): string | undefined {
  try {
    const message = JSON.parse(body) as { Records?: { s3?: { bucket?: { arn?: string } } }[]; Bucket?: string };
    return message.Records?.[0]?.s3?.bucket?.arn ?? (message.Bucket === undefined ? undefined : `arn:aws:s3:::${message.Bucket}`);
  } catch {
    return undefined;
  }
}

function createS3Notifier(options: S3NotifierOptions): S3Notifier {
  const sqs = new SQSClient(localClientConfig(options.fauxqsEndpoint, options.region));
  const sns = new SNSClient(localClientConfig(options.fauxqsEndpoint, options.region));
  const warnedLambdas = new Set<string>();

  async function send(target: NotificationTarget, body: string): Promise<void> {
    switch (target.kind) {
      case 'queue': {
        const bucketArn = bucketArnOf(body);
        if (bucketArn !== undefined && options.allowsDelivery?.(bucketArn, target.arn) === false) return;
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrlFromArn(target.arn), MessageBody: body }));
        return;
      }
      case 'topic': {
        const bucketArn = bucketArnOf(body);
        if (bucketArn !== undefined && options.allowsDelivery?.(bucketArn, target.arn) === false) return;
        await sns.send(new PublishCommand({ TopicArn: target.arn, Message: body, Subject: SNS_SUBJECT }));
        return;
      }
      case 'lambda':
        if (!warnedLambdas.has(target.arn)) {
          warnedLambdas.add(target.arn);
          options.log(`[s3] LambdaFunctionConfigurations are stored but not invoked by the emulator layer: ${target.arn}`);
        }
        return;
    }
  }

  return {
    send,
    close: () => {
      sqs.destroy();
      sns.destroy();
    },
  };
}

export { createS3Notifier };
export type { S3Notifier };

/**
 * Bucket configuration subresources fauxqs does not implement (`?notification`, `?policy`,
 * `?encryption`, ...). fauxqs would treat `PUT /bucket?policy` as CreateBucket, `GET` as
 * ListObjects and `DELETE` as DeleteBucket, so the edge answers them from this store instead,
 * persisted as one JSON file per bucket under `<dataDir>/edge/buckets/`.
 */
import { join } from 'node:path';
import { emptyNotificationConfiguration } from './s3-notifications.ts';
import type { NotificationConfiguration } from './s3-notifications.ts';
import { readJsonFile, removeFile, writeJsonFileAtomic } from '../util/json-file.ts';

interface BucketConfigDocument {
  notification?: NotificationConfiguration;
  /** Raw bodies of the other subresources, by query name. */
  subresources: Record<string, string>;
}

interface SubresourceRule {
  contentType: string;
  /** What GET answers when nothing was stored: a default document or an AWS error. */
  missing: { body: (context: { region: string; accountId: string }) => string } | { code: string; message: string };
  /** Status of a successful PUT (PutBucketPolicy answers 204, the others 200). */
  putStatus: number;
  deletable: boolean;
}

const XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** Per subresource: S3's answer when it is not configured (S3 API reference, Get* "Errors"). */
const SUBRESOURCES: Record<string, SubresourceRule> = {
  policy: {
    contentType: 'application/json',
    missing: { code: 'NoSuchBucketPolicy', message: 'The bucket policy does not exist' },
    putStatus: 204,
    deletable: true,
  },
  cors: {
    contentType: 'application/xml',
    missing: { code: 'NoSuchCORSConfiguration', message: 'The CORS configuration does not exist' },
    putStatus: 200,
    deletable: true,
  },
  // Since January 2023 every bucket has SSE-S3 as its default encryption.
  encryption: {
    contentType: 'application/xml',
    missing: {
      body: () =>
        `<ServerSideEncryptionConfiguration ${XMLNS}><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`,
    },
    putStatus: 200,
    deletable: true,
  },
  versioning: {
    contentType: 'application/xml',
    missing: { body: () => `<VersioningConfiguration ${XMLNS}/>` },
    putStatus: 200,
    deletable: false,
  },
  tagging: {
    contentType: 'application/xml',
    missing: { code: 'NoSuchTagSet', message: 'The TagSet does not exist' },
    putStatus: 204,
    deletable: true,
  },
  publicAccessBlock: {
    contentType: 'application/xml',
    missing: { code: 'NoSuchPublicAccessBlockConfiguration', message: 'The public access block configuration was not found' },
    putStatus: 200,
    deletable: true,
  },
  ownershipControls: {
    contentType: 'application/xml',
    missing: { code: 'OwnershipControlsNotFoundError', message: 'The bucket ownership controls were not found' },
    putStatus: 200,
    deletable: true,
  },
  website: {
    contentType: 'application/xml',
    missing: { code: 'NoSuchWebsiteConfiguration', message: 'The specified bucket does not have a website configuration' },
    putStatus: 200,
    deletable: true,
  },
  logging: {
    contentType: 'application/xml',
    missing: { body: () => `<BucketLoggingStatus ${XMLNS}/>` },
    putStatus: 200,
    deletable: false,
  },
  acl: {
    contentType: 'application/xml',
    missing: {
      body: ({ accountId }) =>
        `<AccessControlPolicy ${XMLNS}><Owner><ID>${accountId}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${accountId}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`,
    },
    putStatus: 200,
    deletable: false,
  },
};

interface BucketConfigStore {
  getNotification(bucket: string): NotificationConfiguration;
  putNotification(bucket: string, configuration: NotificationConfiguration): void;
  getSubresource(bucket: string, name: string): string | undefined;
  putSubresource(bucket: string, name: string, body: string): void;
  deleteSubresource(bucket: string, name: string): void;
  /** Forgets everything about a deleted bucket. */
  deleteBucket(bucket: string): void;
}

function createBucketConfigStore(directory: string): BucketConfigStore {
  const cache = new Map<string, BucketConfigDocument>();
  const fileOf = (bucket: string): string => join(directory, `${encodeURIComponent(bucket)}.json`);

  function load(bucket: string): BucketConfigDocument {
    let document = cache.get(bucket);
    if (document === undefined) {
      document = readJsonFile<BucketConfigDocument>(fileOf(bucket), { subresources: {} });
      cache.set(bucket, document);
    }
    return document;
  }

  function save(bucket: string, document: BucketConfigDocument): void {
    cache.set(bucket, document);
    writeJsonFileAtomic(fileOf(bucket), document);
  }

  return {
    getNotification: (bucket) => load(bucket).notification ?? emptyNotificationConfiguration(),
    putNotification: (bucket, configuration) => save(bucket, { ...load(bucket), notification: configuration }),
    getSubresource: (bucket, name) => load(bucket).subresources[name],
    putSubresource: (bucket, name, body) => {
      const document = load(bucket);
      save(bucket, { ...document, subresources: { ...document.subresources, [name]: body } });
    },
    deleteSubresource: (bucket, name) => {
      const document = load(bucket);
      const subresources = { ...document.subresources };
      delete subresources[name];
      save(bucket, { ...document, subresources });
    },
    deleteBucket: (bucket) => {
      cache.delete(bucket);
      removeFile(fileOf(bucket));
    },
  };
}

export { SUBRESOURCES, createBucketConfigStore };


import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSlices, readSlices, removeSlices, selectSlices, SliceError, staleReferences, withoutMarked } from '../../scripts/starter/slices.ts';

const root = resolve(import.meta.dirname, '../..');

/** A small checkout: a service with two resources files and a manifest, written fresh per test. */
const SERVICE = `service: demo
params:
  default:
    # How long a review waits.
    reviewDelaySeconds: 900
    keep: 1
functions:
  ship:
    handler: functions/ship.handler
    role: ShipRole
    environment:
      TOPIC_ARN: !Ref Topic
      REVIEW_QUEUE_URL: !Ref ReviewQueue
  review:
    handler: functions/review.handler
    role: ReviewRole
    events:
      - sqs: { arn: !GetAtt ReviewQueue.Arn }
resources:
  - \${file(resources/queues.yml)}
  - \${file(resources/review.yml)}
  - Outputs:
      TopicArn:
        Value: !Ref Topic
      ReviewQueueUrl:
        Value: !Ref ReviewQueue
`;

const QUEUES = `Resources:
  Topic:
    Type: AWS::SNS::Topic
  # The delay queue.
  ReviewQueue:
    Type: AWS::SQS::Queue

  Policy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues:
        - !Ref ReviewQueue
        - !Ref Other
      PolicyDocument:
        Statement:
          - { Effect: Allow, Principal: { Service: sns.amazonaws.com }, Action: sqs:SendMessage, Resource: [!GetAtt Other.Arn] }
  ShipRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [sns:Publish]
                Resource:
                  - !Ref Topic
              - Effect: Allow
                Action: [sqs:SendMessage]
                Resource:
                  - !GetAtt ReviewQueue.Arn
              - Effect: Allow
                Action: [s3:PutObject]
                Resource: !Sub '\${Bucket.Arn}/labels/*'
  Other:
    Type: AWS::SQS::Queue
`;

const REVIEW = `Resources:
  ReviewRole:
    Type: AWS::IAM::Role
`;

const MANIFEST = `slices:
  reviews:
    summary: review requests
    functions: [review]
    resources: [ReviewQueue, ReviewRole]
    keys:
      serverless.yml: [params.default.reviewDelaySeconds]
    files: [resources/review.yml]
    marked: [README.md, functions/ship.ts]
    names: [REVIEW_QUEUE_URL]
`;

let dirs: string[] = [];

const checkout = (overrides: Record<string, string> = {}): string => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-slices-'));
  dirs.push(dir);
  const files: Record<string, string> = {
    'serverless.yml': SERVICE,
    'resources/queues.yml': QUEUES,
    'resources/review.yml': REVIEW,
    'slices.yml': MANIFEST,
    'package.json': '{\n  "name": "demo",\n  "scripts": {}\n}\n',
    'functions/ship.ts': "export const ship = 1;\nconst url = process.env.REVIEW_QUEUE_URL; // slice-line:reviews\n",
    'functions/review.ts': 'export const review = 1;\n',
    'README.md': '# demo\n\nShips.\n\n<!-- slice-begin:reviews -->\nAsks for a review (REVIEW_QUEUE_URL).\n<!-- slice-end:reviews -->\n\nThe end.\n',
    ...overrides,
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
};

const read = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8');

describe('Starter: slices (scripts/starter/slices.ts)', () => {
  afterEach(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    dirs = [];
  });

  it("the repository's slices.yml matches the repository: every function, resource, key, file and marker it names is there", () => {
    // Act
    const problems = checkSlices(root);

    // Assess
    expect(problems).toEqual([]);
  });

  it('takes a slice out: its function, resources, keys, files and marked lines, and what referred to it, structurally', () => {
    // Prepare
    const dir = checkout();

    // Act
    const { removedNames } = removeSlices(dir, ['reviews']);

    // Assess: serverless.yml keeps its formatting, loses the function, the param (with its comment), the env var,
    // the include of the removed file and the output
    expect(read(dir, 'serverless.yml')).toBe(`service: demo
params:
  default:
    keep: 1
functions:
  ship:
    handler: functions/ship.handler
    role: ShipRole
    environment:
      TOPIC_ARN: !Ref Topic
resources:
  - \${file(resources/queues.yml)}
  - Outputs:
      TopicArn:
        Value: !Ref Topic
`);
    // the queue (with its comment) and every list item naming it; the statement left with no resource goes whole
    const queues = read(dir, 'resources/queues.yml');
    expect(queues).not.toContain('ReviewQueue');
    expect(queues).not.toContain('The delay queue');
    expect(queues).toContain("        - !Ref Other\n");
    expect(queues).toContain('Action: [sns:Publish]');
    expect(queues).not.toContain('sqs:SendMessage]');
    expect(queues).toContain("Resource: !Sub '${Bucket.Arn}/labels/*'");
    expect(read(dir, 'README.md')).toBe('# demo\n\nShips.\n\nThe end.\n');
    expect(read(dir, 'functions/ship.ts')).toBe('export const ship = 1;\n');
    expect(() => read(dir, 'functions/review.ts')).toThrow(/ENOENT/);
    expect(() => read(dir, 'resources/review.yml')).toThrow(/ENOENT/);
    // the slice leaves the manifest, and nothing names what went
    expect(readSlices(dir)).toEqual([]);
    expect(staleReferences(dir, removedNames)).toEqual([]);
  });

  it('refuses an unknown slice, listing the known ones, and changes nothing', () => {
    // Prepare
    const dir = checkout();

    // Act + Assess
    expect(() => removeSlices(dir, ['analytic'])).toThrow(new SliceError('unknown slice "analytic": the slices of this checkout are reviews (slices.yml)'));
    expect(read(dir, 'serverless.yml')).toBe(SERVICE);
  });

  it('takes a repeated or comma-separated list of slices', () => {
    // Prepare
    const slices = readSlices(checkout({ 'slices.yml': `${MANIFEST}  imports:\n    summary: imports\n` }));

    // Act
    const selected = selectSlices(slices, ['reviews,imports', 'reviews']);

    // Assess
    expect(selected.map((slice) => slice.name)).toEqual(['reviews', 'imports']);
  });

  it('refuses, naming it, a resource that would be left referring to a removed one, and changes nothing', () => {
    // Prepare: an alarm on the review queue that the slice does not list
    const dir = checkout({ 'resources/queues.yml': `${QUEUES}  ReviewAlarm:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n      Dimensions: [{ Name: QueueName, Value: !GetAtt ReviewQueue.QueueName }]\n` });

    // Act + Assess
    expect(() => removeSlices(dir, ['reviews'])).toThrow(/resources\/queues\.yml: Resources\.ReviewAlarm refers to ReviewQueue/);
    expect(read(dir, 'resources/queues.yml')).toContain('ReviewQueue:');
    expect(read(dir, 'functions/review.ts')).toBe('export const review = 1;\n');
  });

  it('reports what slices.yml names that the checkout lacks, and markers the slice does not declare', () => {
    // Prepare
    const dir = checkout({
      'slices.yml': MANIFEST.replace('functions: [review]', 'functions: [review, gone]').replace('ReviewRole]', 'ReviewRole, NoSuchQueue]'),
      'lib/extra.ts': '// slice-line:reviews\n// slice-begin:other\n',
    });

    // Act
    const problems = checkSlices(dir);

    // Assess
    expect(problems).toEqual([
      'slices.reviews.functions: gone is not a function of serverless.yml',
      'slices.reviews.resources: NoSuchQueue is defined in none of serverless.yml and resources/queues.yml, resources/review.yml',
      'lib/extra.ts:1: slice-*:reviews marker, but slices.reviews.marked does not list lib/extra.ts',
      'lib/extra.ts:2: marker of an unknown slice "other"',
    ]);
  });

  it('withoutMarked: blocks and single lines go, an unclosed block is refused with its line', () => {
    expect(withoutMarked('a\n// slice-begin:x\nb\n// slice-end:x\nc // slice-line:x\nd\n', 'x', 'f.ts')).toBe('a\nd\n');
    expect(withoutMarked('a // slice-line:y,x\nb\n', 'x', 'f.ts')).toBe('b\n');
    expect(withoutMarked('a // slice-line:y\n', 'x', 'f.ts')).toBe('a // slice-line:y\n');
    expect(() => withoutMarked('a\n// slice-begin:x\nb\n', 'x', 'f.ts')).toThrow('f.ts:2: slice-begin:x is never closed by slice-end:x');
  });
});

/**
 * Stopping a LevelDB emulator (kinesalite, dynalite) while requests still arrive: a request that arrives once the stop
 * has begun is answered 503 and never reaches the emulator, whose database is closing. A LevelDB read after the close
 * is a segmentation fault of the whole process, as a Kinesis poller's GetShardIterator forwarded during a stop was.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKinesalite, type RunningEmulator } from '../src/emulators/servers.ts';
import { waitFor } from '../src/util/wait.ts';

/** One Kinesis JSON-protocol request, in memory, to the emulator's own listener. */
function kinesis(emulator: RunningEmulator, operation: string, body: Record<string, unknown>) {
  if (emulator.dispatch === undefined) throw new Error('kinesalite has no request listener');
  return inject(emulator.dispatch, {
    method: 'POST',
    url: '/',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `Kinesis_20131202.${operation}`,
      'x-amz-date': '20261204T000000Z',
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
    },
    payload: JSON.stringify(body),
  });
}

describe('Local cloud: a LevelDB emulator that is stopping', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'emulator-stop-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 to reads that arrive after its stop began, and none of them reaches its closed database', async () => {
    // Prepare
    const emulator = await startKinesalite(join(dataDir, 'kinesalite'), 'us-east-1', '000000000000');
    const created = await kinesis(emulator, 'CreateStream', { StreamName: 'stopping', ShardCount: 1 });
    // ACTIVE a moment after CreateStream answers (createStreamMs 0 is a timer of 0 ms).
    await waitFor(async () => JSON.parse((await kinesis(emulator, 'DescribeStreamSummary', { StreamName: 'stopping' })).body).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', {
      what: 'stream stopping ACTIVE',
      timeoutMs: 10_000,
    });
    const read = { StreamName: 'stopping', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' };
    const before = await kinesis(emulator, 'GetShardIterator', read);

    // Act: the stop begins, then reads keep arriving while the database closes.
    const stopped = emulator.stop();
    const late = await Promise.all(Array.from({ length: 20 }, () => kinesis(emulator, 'GetShardIterator', read)));
    await stopped;
    const after = await kinesis(emulator, 'GetShardIterator', read);

    // Assess
    expect([created.statusCode, before.statusCode]).toEqual([200, 200]);
    for (const answer of [...late, after]) {
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual({ __type: 'ServiceUnavailableException', message: 'kinesalite is stopping' });
    }
  });
});

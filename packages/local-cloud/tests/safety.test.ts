/**
 * The local cloud is safe to run on a laptop on a shared network: every socket it listens on is on loopback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../src/index.ts';
import { listeningSockets, type ListeningSocket } from './helpers/sockets.ts';

const FIXTURE_DIR = join(import.meta.dirname, 'fixtures', 'service');

describe('Local cloud: safe on a shared network', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  let before: ListeningSocket[];

  beforeAll(async () => {
    before = listeningSockets();
    dataDir = await mkdtemp(join(tmpdir(), 'local-safety-'));
    cloud = await startLocalCloud({
      skipPackage: true,
      templatePath: join(FIXTURE_DIR, 'template.json'),
      bundleDirs: [FIXTURE_DIR],
      dataDir,
      edgePort: 0,
      apiPort: 0,
      log: () => undefined,
    });
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only: the edge, the HTTP API and every emulator (fauxqs, kinesalite, dynalite)', () => {
    // Act: every TCP socket this process listens on, from /proc (whoever opened it).
    const opened = listeningSockets().filter((socket) => !before.some((known) => known.port === socket.port && known.address === socket.address));

    // Assess: the edge and the API among them, four or more servers (edge, API, fauxqs, kinesalite, dynalite), all on loopback.
    const ports = opened.map((socket) => socket.port);
    expect(ports).toEqual(expect.arrayContaining([Number(new URL(cloud.edgeUrl).port), Number(new URL(cloud.apiUrl).port)]));
    expect(opened.length).toBeGreaterThanOrEqual(5);
    expect(opened.filter((socket) => socket.address !== '127.0.0.1')).toEqual([]);
  });
});

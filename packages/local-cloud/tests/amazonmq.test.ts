import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRabbitMqBrokers } from '../src/amazonmq/rabbitmq-broker.ts';
import { TemplateResolver, type CfnTemplate } from '../src/template/template.ts';

const context = { stackName: 'fixture-local', region: 'us-east-1', accountId: '000000000000', queueUrlBase: 'http://127.0.0.1:4566' };
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** A template with one RabbitMQ broker, its user from a secret (a dynamic reference, as the application's). */
const template = (): CfnTemplate => ({
  Resources: {
    Broker: {
      Type: 'AWS::AmazonMQ::Broker',
      Properties: {
        BrokerName: 'fixture-broker',
        EngineType: 'RABBITMQ',
        Users: [{ Username: { 'Fn::Sub': '{{resolve:secretsmanager:${Secret}:SecretString:username}}' }, Password: 'x' }],
      },
    },
  },
});

describe('Local cloud: Amazon MQ for RabbitMQ brokers', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-cloud-amazonmq-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("gives a broker Amazon MQ's ARN form (broker:<name>:b-<id>), its Ref the id", () => {
    // Act
    const identity = new TemplateResolver(template(), context).identity('Broker');

    // Assess
    expect(identity.ref).toMatch(/^b-[0-9a-f-]{36}$/);
    expect(identity.attributes.Arn).toBe(`arn:aws:mq:us-east-1:000000000000:broker:fixture-broker:${identity.ref}`);
  });

  it('without rabbitmq-server: one line naming the broker and the install, no broker, no throw', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    const brokers = await startRabbitMqBrokers(new TemplateResolver(template(), context), { dataDir, log: (line) => lines.push(line), server: join(dataDir, 'no-such-rabbitmq-server') });

    // Assess
    expect(brokers.size).toBe(0);
    expect(lines).toEqual([
      'Broker (AWS::AmazonMQ::Broker): not started, rabbitmq-server is not installed (apt-get install rabbitmq-server); its event source mappings get no messages, the rest runs',
    ]);
  });

  it('a node that exits while starting: one line naming the broker and its log, no broker, no throw (the rest of the cloud runs)', async () => {
    // Prepare: a "server" that exits at once, as a broken install does
    const lines: string[] = [];

    // Act
    const brokers = await startRabbitMqBrokers(new TemplateResolver(template(), context), { dataDir, log: (line) => lines.push(line), server: '/bin/false' });

    // Assess
    expect(brokers.size).toBe(0);
    expect(lines).toEqual([
      `Broker (AWS::AmazonMQ::Broker): not started, rabbitmq-server exited while starting (its log: ${join(dataDir, 'amazonmq', 'Broker', 'log', 'rabbit.log')}); its event source mappings get no messages, the rest runs`,
    ]);
  });

  it('switched off (rabbitMq: false, as tests that do not use it start the cloud): one line, no broker', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    const brokers = await startRabbitMqBrokers(new TemplateResolver(template(), context), { dataDir, log: (line) => lines.push(line), enabled: false });

    // Assess
    expect(brokers.size).toBe(0);
    expect(lines).toEqual(['Broker (AWS::AmazonMQ::Broker): not started (RabbitMQ switched off for this run); its event source mappings get no messages']);
  });

  it.skipIf(!existsSync(RABBITMQ_SERVER))('with rabbitmq-server: a node on a free port that accepts the written credentials, stopped with its epmd', { timeout: 180_000 }, async () => {
    // Act
    const brokers = await startRabbitMqBrokers(new TemplateResolver(template(), context), { dataDir, log: () => {} });
    const broker = [...brokers.values()][0];
    try {
      const written = JSON.parse(await readFile(join(dataDir, 'amazonmq', 'Broker', 'connection.json'), 'utf8')) as { url: string; username: string };
      const connection = await amqp.connect(written.url);
      await connection.close();

      // Assess
      expect(written.username).toBe('orderflow');
      expect(written.url).toBe(broker?.connection.url);
      expect(broker?.connection.url).toMatch(/^amqp:\/\/orderflow:[^@]+@127\.0\.0\.1:\d+$/);
    } finally {
      await broker?.stop();
    }
    await expect(amqp.connect(broker?.connection.url ?? '')).rejects.toThrow();
  });
});

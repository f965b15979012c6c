/**
 * A template's Amazon MQ for RabbitMQ brokers (AWS::AmazonMQ::Broker, EngineType RABBITMQ) as real RabbitMQ
 * nodes: Debian's `rabbitmq-server`, started as a child process (never the system service) on free 127.0.0.1
 * ports, with its own node name, Erlang port mapper (epmd) port, configuration and data under
 * `<data dir>/amazonmq/<logical id>/`. Without `rabbitmq-server` installed, one line says so and the rest of the
 * cloud runs; the broker's event source mappings get no messages.
 *
 * Credentials: on AWS the broker's user comes from Secrets Manager (a dynamic reference in Users); the local
 * cloud does not emulate Secrets Manager, so it creates the user named in the template with a password of its own,
 * kept beside the node's data (`connection.json`: what `npm run warehouse:publish` and the poller read).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import type { TemplateResolver } from '../template/template.ts';
import { freePort } from '../util/ports.ts';
import { waitFor } from '../util/wait.ts';

/** Debian's scripts: the real start script (the /usr/sbin wrapper switches to the rabbitmq user when run as root). */
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const EPMD = '/usr/bin/epmd';

/**
 * How long a node may take to start: 22 s from spawn to "Server startup complete" for a first boot of
 * rabbitmq-server 3.10.8 on a 2-core machine under load (measured by hand while writing this), so 120 s.
 */
const START_TIMEOUT_MS = 120_000;

interface BrokerConnection {
  /** amqp://user:password@127.0.0.1:port */
  url: string;
  username: string;
  password: string;
  port: number;
}

interface LocalBroker {
  logicalId: string;
  arn: string;
  connection: BrokerConnection;
  stop(): Promise<void>;
}

/** The RabbitMQ brokers of the template that CloudFormation would create. */
function rabbitMqBrokers(resolver: TemplateResolver): { logicalId: string; arn: string; username: string }[] {
  const brokers: { logicalId: string; arn: string; username: string }[] = [];
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources)) {
    if (resource.Type !== 'AWS::AmazonMQ::Broker' || !resolver.isActive(logicalId)) continue;
    if (String(resource.Properties?.EngineType ?? '').toUpperCase() !== 'RABBITMQ') continue;
    const users = resource.Properties?.Users as { Username?: unknown }[] | undefined;
    // A dynamic reference ({{resolve:secretsmanager:...}}) cannot be read locally: the local user is `orderflow`.
    const named = typeof users?.[0]?.Username === 'string' && !users[0].Username.startsWith('{{') ? users[0].Username : 'orderflow';
    brokers.push({ logicalId, arn: String(resolver.identity(logicalId).attributes.Arn), username: named });
  }
  return brokers;
}

/** The node's password: made once per data directory (RabbitMQ creates default_user only on a fresh node). */
async function credentials(dir: string, username: string): Promise<{ username: string; password: string }> {
  const file = join(dir, 'credentials.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as { username: string; password: string };
  const created = { username, password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(created), { mode: 0o600 });
  return created;
}

/** Starts one node and resolves once it accepts an AMQP connection. */
async function startNode(broker: { logicalId: string; arn: string; username: string }, dataDir: string, server: string, log: (line: string) => void): Promise<LocalBroker> {
  const dir = join(dataDir, 'amazonmq', broker.logicalId);
  await mkdir(join(dir, 'log'), { recursive: true });
  const { username, password } = await credentials(dir, broker.username);
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(join(dir, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${port}`, `default_user = ${username}`, `default_pass = ${password}`, 'loopback_users = none', ''].join('\n'));
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `${broker.logicalId.toLowerCase()}-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: join(dir, 'log', 'rabbit.log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
  };
  // A watchdog shell between the cloud and the node: it stops the node (and its epmd) when its stdin closes, which
  // happens when this process exits however it exits, SIGKILL included, so no node outlives the cloud; and it exits
  // when the node does, so a node that dies while starting is reported at once, not after START_TIMEOUT_MS.
  const watchdog = [
    'exec 3<&0',
    `"$0" <&- & node=$!`,
    // An asynchronous list's stdin is /dev/null unless redirected (POSIX sh): the reader takes fd 3.
    `( read _ignored <&3 || true; kill -TERM $node 2>/dev/null ) & reader=$!`,
    `trap 'kill -TERM $node 2>/dev/null' TERM`,
    'wait $node || wait $node',
    'kill $reader 2>/dev/null',
    `"${EPMD}" -kill > /dev/null 2>&1 || true`,
  ].join('\n');
  const child: ChildProcess = spawn('/bin/sh', ['-c', watchdog, server], { env, cwd: dir, stdio: ['pipe', 'ignore', 'ignore'] });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const connection: BrokerConnection = { url: `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${port}`, username, password, port };
  const stop = async (): Promise<void> => {
    // Closing the watchdog's stdin stops the node, then this node's own port mapper (ERL_EPMD_PORT, which Erlang
    // started as a daemon) by its port.
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      await gone;
    }
  };
  try {
    // The probe answers 'exited' rather than throwing: waitFor takes a throw for "not yet".
    const outcome = await waitFor(
      async () => {
        if (exited) return 'exited';
        try {
          const probe = await amqp.connect(connection.url);
          await probe.close();
          return 'accepting';
        } catch {
          return false;
        }
      },
      { what: `RabbitMQ for ${broker.logicalId} on 127.0.0.1:${port}`, timeoutMs: START_TIMEOUT_MS, intervalMs: 250 },
    );
    if (outcome === 'exited') throw new Error(`rabbitmq-server exited while starting (its log: ${join(dir, 'log', 'rabbit.log')})`);
  } catch (error) {
    await stop();
    throw error;
  }
  await writeFile(join(dir, 'connection.json'), JSON.stringify({ logicalId: broker.logicalId, brokerArn: broker.arn, ...connection }, null, 2), { mode: 0o600 });
  log(`${broker.logicalId}: RabbitMQ on amqp://127.0.0.1:${port} (rabbitmq-server, data in ${dir})`);
  return { logicalId: broker.logicalId, arn: broker.arn, connection, stop };
}

/**
 * Starts a RabbitMQ node for each RabbitMQ broker of the template; answers them by broker ARN (empty, after one
 * line, when rabbitmq-server is not installed).
 *
 * @example
 * const brokers = await startRabbitMqBrokers(resolver, { dataDir, log });
 * brokers.get(brokerArn)?.connection.url; // amqp://orderflow:...@127.0.0.1:38211
 */
async function startRabbitMqBrokers(
  resolver: TemplateResolver,
  options: { dataDir: string; log: (line: string) => void; /** The start script; default Debian's. */ server?: string; /** false: none started (one line). */ enabled?: boolean },
): Promise<Map<string, LocalBroker>> {
  const server = options.server ?? RABBITMQ_SERVER;
  const wanted = rabbitMqBrokers(resolver);
  const started = new Map<string, LocalBroker>();
  if (wanted.length === 0) return started;
  if (options.enabled === false) {
    options.log(`${wanted.map((b) => b.logicalId).join(', ')} (AWS::AmazonMQ::Broker): not started (RabbitMQ switched off for this run); its event source mappings get no messages`);
    return started;
  }
  if (!existsSync(server)) {
    options.log(
      `${wanted.map((b) => b.logicalId).join(', ')} (AWS::AmazonMQ::Broker): not started, rabbitmq-server is not installed (apt-get install rabbitmq-server); its event source mappings get no messages, the rest runs`,
    );
    return started;
  }
  for (const broker of wanted) {
    // A node that does not come up (a busy machine, a broken install) costs its broker only: one line, the rest runs.
    try {
      started.set(broker.arn, await startNode(broker, options.dataDir, server, options.log));
    } catch (error) {
      options.log(`${broker.logicalId} (AWS::AmazonMQ::Broker): not started, ${error instanceof Error ? error.message : String(error)}; its event source mappings get no messages, the rest runs`);
    }
  }
  return started;
}

export type { LocalBroker };
export { startRabbitMqBrokers };

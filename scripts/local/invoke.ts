// `npm run invoke -- <function> [event.json|-]`: invoke one function of a running local cloud (`npm start`) with a
// sample event, like `aws lambda invoke` (which the edge does not emulate) or `serverless invoke local` (which in
// osls 4 cannot load this project's ESM `.mjs` bundles). The function runs in the local cloud, with its
// environment from the template, against the emulators.
//
//   npm run invoke -- getOrder events/http/get-order.json
//   npm run invoke -- notifyCustomer events/sqs/s3-test-event.json
//
// The edge's /_local/invoke needs the running cloud's token: LOCAL_CLOUD_TOKEN, else the one `npm start` wrote to
// its data directory (LOCAL_DATA_DIR, default .local: edge/token).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { controlHeaders, readLocalToken } from 'local-cloud';

const edge = process.env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${process.env.EDGE_PORT ?? '4566'}`;

const serviceName = (): string => {
  const match = /^service:\s*([\w-]+)/m.exec(readFileSync(join(import.meta.dirname, '../../serverless.yml'), 'utf8'));
  return match?.[1] ?? 'orderflow';
};

const readEvent = (source: string | undefined): unknown => {
  if (source === undefined) return {};
  return JSON.parse(source === '-' ? readFileSync(0, 'utf8') : readFileSync(source, 'utf8'));
};

const main = async (): Promise<number> => {
  const [fn, source] = process.argv.slice(2);
  if (!fn) {
    process.stderr.write('usage: npm run invoke -- <function> [event.json | -]   (the local cloud must be running: npm start)\n');
    return 2;
  }
  // A short name (getOrder) means this service's function on the local stage.
  const functionName = fn.includes('-') || fn.includes(':') ? fn : `${serviceName()}-local-${fn}`;
  let response: Response;
  try {
    response = await fetch(`${edge}/_local/invoke`, {
      method: 'POST',
      headers: controlHeaders(readLocalToken({ dataDir: resolve(import.meta.dirname, '../..', process.env.LOCAL_DATA_DIR || '.local') })),
      body: JSON.stringify({ functionName, event: readEvent(source) }),
    });
  } catch (error) {
    process.stderr.write(`No local cloud answers at ${edge} (${(error as Error).message}): start it with npm start\n`);
    return 1;
  }
  const result = (await response.json()) as { ok?: boolean; error?: unknown };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return response.ok && result.ok !== false ? 0 : 1;
};

process.exitCode = await main();

/**
 * `npm start`: orderflow on the local cloud in the foreground, with the live dashboard. The flags and the banner
 * are the local cloud's (`npm start -- --help`); `--faults '<json>'` is validated by lib/faults.ts. Environment:
 * EDGE_PORT (default 4566), PORT (HTTP API, default 3000), LOCAL_DATA_DIR, DASHBOARD_PORT (default 4567; `off`: none).
 */
import { runCli, type LocalCloud } from 'local-cloud';
import { parseFaults } from '../../lib/faults.ts';
import { startDashboard } from '../dashboard/server.ts';
import { startOrderflowCloud } from './cloud.ts';

function dashboardPort(): number {
  const raw = process.env.DASHBOARD_PORT;
  const port = raw === undefined || raw === '' ? 4567 : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`DASHBOARD_PORT must be a port number or off, got "${raw}"`);
  return port;
}

/** The customer of the token the banner prints. */
const BANNER_CUSTOMER = 'alice';

/**
 * A ready-to-use token for the API's JWT authorizer (the local issuer's, one hour), with the request that uses it
 * and how to get another customer's.
 */
async function tokenLines(cloud: LocalCloud): Promise<string[]> {
  const token = await cloud.mintToken({ customer: BANNER_CUSTOMER });
  return [
    `  Token   customer "${BANNER_CUSTOMER}", valid 1 h (another: TOKEN=$(npm run -s token -- <customer>)):`,
    `          TOKEN=${token}`,
    `          curl -s ${cloud.apiUrl}/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"customerId":"c-1","fulfillment":"digital","items":[{"sku":"EBOOK-1","quantity":1,"unitPriceCents":999}]}'`,
  ];
}

/** The token lines and the dashboard on DASHBOARD_PORT; the cloud runs without the dashboard when it cannot start. */
async function attachDashboard(cloud: LocalCloud, log: (line: string) => void): Promise<{ lines: string[]; stop(): Promise<void> } | undefined> {
  const lines = await tokenLines(cloud);
  if (process.env.DASHBOARD_PORT === 'off') return { lines, stop: async () => undefined };
  try {
    const dashboard = await startDashboard({ cloud, port: dashboardPort(), log });
    return { lines: [...lines, `  Dashboard ${dashboard.url}`], stop: () => dashboard.stop() };
  } catch (error) {
    log(`warning: no dashboard: ${error instanceof Error ? error.message : String(error)}`);
    return { lines, stop: async () => undefined };
  }
}

if (import.meta.main) {
  runCli(process.argv.slice(2), {
    command: 'npm start --',
    start: startOrderflowCloud,
    validateFaults: parseFaults,
    environmentHelp: 'DASHBOARD_PORT (default 4567; off: no dashboard)',
    attach: attachDashboard,
  }).catch((error: unknown) => {
    process.stderr.write(`npm start failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  });
}

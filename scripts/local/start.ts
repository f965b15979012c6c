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

/** The dashboard on DASHBOARD_PORT; the cloud runs without it when it cannot start. */
async function attachDashboard(cloud: LocalCloud, log: (line: string) => void): Promise<{ lines: string[]; stop(): Promise<void> } | undefined> {
  if (process.env.DASHBOARD_PORT === 'off') return undefined;
  try {
    const dashboard = await startDashboard({ cloud, port: dashboardPort(), log });
    return { lines: [`  Dashboard ${dashboard.url}`], stop: () => dashboard.stop() };
  } catch (error) {
    log(`warning: no dashboard: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
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

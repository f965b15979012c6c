// `npm run iam`: what IAM refused in the running local cloud (`npm start`) since it started: each function request
// its role does not allow (grouped by function, action and resource, with how many times), each SNS or S3 delivery a
// queue policy dropped, and each event source mapping its function's role would not allow (under `--iam warn`).
// These are the failures that otherwise show only after deploying: AccessDenied, or a subscription that never
// delivers. `--json` prints the edge's answer as it is. Exits 1 when something was refused, so a script can gate on it.
//
// The edge's /_local/iam needs the running cloud's token: LOCAL_CLOUD_TOKEN, else the one `npm start` wrote to
// its data directory (LOCAL_DATA_DIR, default .local: edge/token).
import { resolve } from 'node:path';
import { controlHeaders, readLocalToken, type IamReport } from 'local-cloud';

/** The report as lines for a terminal: a summary line, then one line per distinct denial, delivery and mapping. */
const formatIamReport = (report: IamReport): string[] => {
  const summary = `IAM ${report.mode}: ${report.evaluated} function request(s) evaluated since start`;
  if (report.mode === 'off') return [summary, 'nothing is evaluated with --iam off'];
  const lines = [`${summary} (${report.simulated} by the policy evaluator, the rest from its decision cache)`];
  const groups = new Map<string, { count: number; last: string; line: string }>();
  for (const denial of report.denials) {
    const key = `${denial.functionName}\n${denial.action}\n${denial.resource}`;
    const verdict = denial.refused ? 'AccessDenied' : 'allowed (--iam warn), AccessDenied on AWS';
    const group = groups.get(key) ?? { count: 0, last: denial.at, line: `${denial.functionName}: ${denial.action} on ${denial.resource}: ${verdict} (role ${denial.roleName})` };
    groups.set(key, { ...group, count: group.count + 1, last: denial.at });
  }
  lines.push(groups.size === 0 ? 'requests: none refused' : `requests refused (${report.denials.length}, the last 200 kept):`);
  for (const { count, last, line } of groups.values()) lines.push(`  ${count} x ${line}, last at ${last}`);
  lines.push(report.deliveryDenials.length === 0 ? 'deliveries: none dropped' : `deliveries a queue policy refused (${report.deliveryDenials.length}):`);
  for (const delivery of report.deliveryDenials) {
    lines.push(`  ${delivery.service} ${delivery.sourceArn} -> ${delivery.queueArn}: ${delivery.dropped ? 'dropped' : 'delivered (--iam warn), dropped on AWS'}: ${delivery.reason}`);
  }
  lines.push(report.mappingRefusals.length === 0 ? 'event source mappings: every role allows its mapping' : 'event source mappings AWS would not create:');
  for (const refusal of report.mappingRefusals) lines.push(`  ${refusal}`);
  return lines;
};

const refusedAnything = (report: IamReport): boolean => report.denials.length + report.deliveryDenials.length + report.mappingRefusals.length > 0;

const main = async (): Promise<number> => {
  const edge = process.env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${process.env.EDGE_PORT ?? '4566'}`;
  let response: Response;
  try {
    response = await fetch(`${edge}/_local/iam`, { headers: controlHeaders(readLocalToken({ dataDir: resolve(import.meta.dirname, '../..', process.env.LOCAL_DATA_DIR || '.local') })) });
  } catch {
    process.stderr.write(`no local cloud answers at ${edge}: start it with npm start\n`);
    return 2;
  }
  const body = (await response.json()) as IamReport & { error?: string; message?: string };
  if (!response.ok) {
    process.stderr.write(`the local cloud answered ${response.status}: ${body.error ?? body.message ?? ''}\n`);
    return 2;
  }
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(body, null, 2)}\n` : `${formatIamReport(body).join('\n')}\n`);
  return refusedAnything(body) ? 1 : 0;
};

if (import.meta.main) process.exitCode = await main();

export { formatIamReport };

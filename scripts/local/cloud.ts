/**
 * orderflow on the local cloud: the package's `startLocalCloud` with what only this application knows, its fault
 * switches (FAULTS, validated by lib/faults.ts) and how its batch consumers report a failed record (failures.ts).
 * `npm start`, `npm run invoke`, the load scenarios and the tests start the local cloud through this.
 */
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from 'local-cloud';
import { parseFaults } from '../../lib/faults.ts';
import { recordFailureOf } from './failures.ts';

function startOrderflowCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  return startLocalCloud({ faultInjection: { variable: 'FAULTS', validate: parseFaults }, recordFailureOf, ...options });
}

export { startOrderflowCloud };

/**
 * How orderflow's batch consumers report a failed record: `lib/batch.ts` logs one JSON line per failure,
 * `{"message":"record failed","errorName":…,"errorMessage":…,"messageId"|"sequenceNumber":…,"orderId":…}`
 * (Powertools' logger). The local cloud hands every function log line to `recordFailureOf`, and remembers what
 * it returns for `/_local/failures` (what `npm run dlq -- peek` shows as a message's reason). The contract is the
 * application's, so it lives here, beside the code that writes it (tests/unit/lib/batch.test.ts holds the shape).
 */
import type { RecordFailure } from 'local-cloud';

/** Cheap for every other line: one substring test before any JSON parse. */
function recordFailureOf(_functionName: string, line: string): RecordFailure | undefined {
  if (!line.includes('"record failed"')) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const key = typeof entry.messageId === 'string' ? entry.messageId : typeof entry.sequenceNumber === 'string' ? entry.sequenceNumber : undefined;
  if (entry.message !== 'record failed' || key === undefined) return undefined;
  return {
    key,
    at: typeof entry.timestamp === 'string' ? entry.timestamp : new Date().toISOString(),
    errorName: String(entry.errorName ?? 'Error'),
    errorMessage: String(entry.errorMessage ?? ''),
    ...(typeof entry.orderId === 'string' ? { orderId: entry.orderId } : {}),
  };
}

export { recordFailureOf };

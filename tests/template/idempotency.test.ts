import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, lambdaFunctions, loadTemplate, refId, resource, sqsMappings, type Template } from './helpers.ts';
import { kinesisMappings, targetId } from './helpers.ts'; // slice-line:analytics
import { functionRoleId, resolveValue, roleStatements } from './helpers.ts'; // slice-line:imports

/** SQS's default message retention, what a queue without MessageRetentionPeriod keeps (SQS API reference, CreateQueue). */
const SQS_DEFAULT_RETENTION_SECONDS = 345_600;

const retentionOf = (t: Template, queueId: string): number => Number(resource(t, queueId).Properties?.MessageRetentionPeriod ?? SQS_DEFAULT_RETENTION_SECONDS);

describe.each(STAGES)('Idempotency windows (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // A standard queue's DLQ keeps the original enqueue time (SQS developer guide, "Setting-up dead-letter queue
  // retention"); a redrive makes a new message (new enqueue time: "Learn how to configure a dead-letter queue
  // redrive"), which the source queue keeps its own retention. The charge record must outlive both.
  it.each([
    ['chargeOrder', 'CHARGE_IDEMPOTENCY_SECONDS', 'chargeIdempotencySeconds'],
    ['importOrders', 'IMPORT_CHECKPOINT_SECONDS', 'importCheckpointSeconds'], // slice-line:imports
  ])("%s's idempotency record (%s) outlives its queue's DLQ retention plus one redrive into that queue", (name, variable, param) => {
    // Prepare
    const charge = lambdaFunctions(t).find((fn) => fn.name === name);
    expect(charge, `${name} function`).toBeDefined();
    const expiry = Number(charge?.props.Environment?.Variables?.[variable]);
    const queues = sqsMappings(t).filter((mapping) => mapping.functionId === charge?.id).map((mapping) => mapping.sourceId);
    expect(queues).toHaveLength(1);
    const queue = queues[0] as string;
    const dlq = refId(resource(t, queue).Properties?.RedrivePolicy?.deadLetterTargetArn);
    expect(dlq, `${queue} RedrivePolicy`).toBeDefined();

    // Act
    const mustExceed = retentionOf(t, dlq as string) + retentionOf(t, queue);

    // Assess
    expect(Number.isSafeInteger(expiry), `${variable} ${String(expiry)}`).toBe(true);
    expect(expiry, `${queue} keeps ${retentionOf(t, queue)} s, ${dlq} ${retentionOf(t, dlq as string)} s`).toBeGreaterThan(mustExceed);
    expect(t.params[param]).toBe(expiry);
  });

  // slice-begin:imports
  it("importOrders may read and update only the idempotency table's import checkpoints (dynamodb:LeadingKeys import#*)", () => {
    // Prepare
    const fn = lambdaFunctions(t).find((candidate) => candidate.name === 'importOrders');
    const table = resolveValue(t, { 'Fn::GetAtt': [refId(fn?.props.Environment?.Variables?.IMPORT_CHECKPOINTS_TABLE), 'Arn'] });

    // Act
    const onTable = roleStatements(t, functionRoleId(t, fn?.id as string)).statements.filter(({ statement }) =>
      [statement.Resource].flat().some((resourceValue) => resolveValue(t, resourceValue) === table),
    );

    // Assess
    expect(onTable).toHaveLength(1);
    expect(onTable[0]?.statement.Action).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(onTable[0]?.statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['import#*'] } });
  });
  // slice-end:imports
});

// slice-begin:analytics
describe.each(STAGES)('Stream retention (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // A Kinesis mapping's on-failure destination holds pointers, not records (Lambda developer guide, "Retaining
  // discarded batch records"): a pointer is worth a redrive only while the stream still has its records.
  it("every stream keeps its records (RetentionPeriodHours = the streamRetentionHours param) as long as its mappings' on-failure queues keep the pointers", () => {
    // Prepare
    const mappings = kinesisMappings(t).filter((mapping) => mapping.props.DestinationConfig?.OnFailure?.Destination !== undefined);
    expect(mappings.length).toBeGreaterThan(0);

    for (const mapping of mappings) {
      // Act
      const hours = Number(resource(t, mapping.sourceId).Properties?.RetentionPeriodHours ?? 24);
      const queue = refId(mapping.props.DestinationConfig.OnFailure.Destination) ?? targetId(mapping.props.DestinationConfig.OnFailure.Destination, mapping.id);
      const pointerSeconds = retentionOf(t, queue);

      // Assess
      expect(hours).toBe(t.params.streamRetentionHours);
      if (stage === 'local') {
        // kinesalite accepts at most 168 h; the redrive refuses older pointers (tests/unit/scripts/dlq-stream.test.ts).
        expect(hours).toBe(168);
      } else {
        expect(hours * 3600, `${mapping.sourceId} keeps ${hours} h, ${queue} keeps ${pointerSeconds} s`).toBeGreaterThanOrEqual(pointerSeconds);
      }
    }
  });
});
// slice-end:analytics


/**
 * The lake's Firehose: data transformation with Lambda (transformLakeRecords) and the S3 backup of source records,
 * on the compiled template of every stage.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, allowedResources, asArray, loadTemplate, refId, resolveValue, resource, resourcesOfType, roleStatements, type Cfn, type Template } from './helpers.ts';

const lakeStream = (t: Template): Cfn => {
  const [stream] = resourcesOfType(t, 'AWS::KinesisFirehose::DeliveryStream');
  if (!stream) throw new Error('no delivery stream');
  return stream[1].Properties.ExtendedS3DestinationConfiguration;
};

const processorParameters = (destination: Cfn): Record<string, Cfn> => {
  const processors = asArray<Cfn>(destination.ProcessingConfiguration?.Processors);
  const lambda = processors.find((processor) => processor.Type === 'Lambda');
  return Object.fromEntries(asArray<Cfn>(lambda?.Parameters).map((parameter) => [parameter.ParameterName, parameter.ParameterValue]));
};

describe.each(STAGES)('The lake: transformation and source backup (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html (0.2-3 MB, 0-900 s, retries default 3)
  it('runs transformLakeRecords as an enabled Lambda processor, with its buffering hints from the stage params within Firehose limits', () => {
    const destination = lakeStream(t);
    expect(destination.ProcessingConfiguration.Enabled).toBe(true);
    const parameters = processorParameters(destination);
    const functionId = refId(parameters.LambdaArn);
    expect(resource(t, functionId ?? '').Properties.Handler).toMatch(/transformLakeRecords\.handler$/);
    expect(Number(parameters.NumberOfRetries)).toBe(3);
    expect(Number(parameters.BufferSizeInMBs)).toBe(Number(t.params.lakeTransformBufferMiB));
    expect(Number(parameters.BufferIntervalInSeconds)).toBe(Number(t.params.lakeTransformBufferSeconds));
    expect(Number(parameters.BufferSizeInMBs)).toBeGreaterThanOrEqual(0.2);
    expect(Number(parameters.BufferSizeInMBs)).toBeLessThanOrEqual(3);
    expect(Number(parameters.BufferIntervalInSeconds)).toBeGreaterThanOrEqual(0);
    expect(Number(parameters.BufferIntervalInSeconds)).toBeLessThanOrEqual(900);
  });

  it('lets Firehose invoke the function and no one else write for it: the delivery role may invoke it, its own role only logs', () => {
    const destination = lakeStream(t);
    const functionId = refId(processorParameters(destination).LambdaArn) ?? '';
    const firehoseRole = refId(destination.RoleARN) ?? '';
    const invokable = allowedResources(t, roleStatements(t, firehoseRole).statements, 'lambda:InvokeFunction');
    expect(invokable).toContain(resolveValue(t, { 'Fn::GetAtt': [functionId, 'Arn'] }));
    const ownRole = refId(resource(t, functionId).Properties.Role) ?? '';
    const actions = roleStatements(t, ownRole).statements.flatMap((source) => asArray<string>(source.statement.Action));
    expect(actions.filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:'))).toEqual([]);
  });

  // S3BackupMode / S3BackupConfiguration: https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html
  it('backs up every source record under its own prefix, apart from the lake and its errors, and expires it', () => {
    const destination = lakeStream(t);
    expect(destination.S3BackupMode).toBe('Enabled');
    const backup = destination.S3BackupConfiguration;
    expect(refId(backup.BucketARN)).toBe(refId(destination.BucketARN));
    expect(backup.Prefix).toMatch(/^source\//);
    expect(backup.ErrorOutputPrefix).toContain('!{firehose:error-output-type}');
    for (const other of [destination.Prefix, destination.ErrorOutputPrefix]) expect(String(other).startsWith('source')).toBe(false);
    expect(backup.CompressionFormat).toBe('GZIP');
    const rules = asArray<Cfn>(resource(t, refId(destination.BucketARN) ?? '').Properties.LifecycleConfiguration?.Rules);
    const expiry = rules.find((rule) => rule.Prefix === 'source/');
    expect(expiry).toMatchObject({ Status: 'Enabled', ExpirationInDays: Number(t.params.lakeSourceBackupDays) });
  });
});

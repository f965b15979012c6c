/**
 * The lake's Firehose: data transformation with Lambda (transformLakeRecords) and the S3 backup of source records,
 * on the compiled template of every stage.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LAKE_COLUMNS } from '../../lib/lake.ts';
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

  // DataFormatConversionConfiguration: https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html
  it('converts to Parquet with the schema of the lake Glue table, whose columns are the rows transformLakeRecords writes', () => {
    const destination = lakeStream(t);
    const conversion = destination.DataFormatConversionConfiguration;
    expect(conversion.Enabled).toBe(true);
    expect(Object.keys(conversion.InputFormatConfiguration.Deserializer)).toEqual(['OpenXJsonSerDe']);
    expect(Object.keys(conversion.OutputFormatConfiguration.Serializer)).toEqual(['ParquetSerDe']);
    const tableId = refId(conversion.SchemaConfiguration.TableName) ?? '';
    const table = resource(t, tableId);
    expect(table.Type).toBe('AWS::Glue::Table');
    const database = resource(t, refId(table.Properties.DatabaseName) ?? '');
    expect(database.Type).toBe('AWS::Glue::Database');
    expect(conversion.SchemaConfiguration.DatabaseName).toBe(database.Properties.DatabaseInput.Name);
    expect(refId(conversion.SchemaConfiguration.RoleARN)).toBe(refId(destination.RoleARN));
    const input = table.Properties.TableInput;
    expect(asArray<Cfn>(input.StorageDescriptor.Columns).map((column) => column.Name)).toEqual([...LAKE_COLUMNS]);
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    // The table reads what Firehose writes: its location is the Prefix before the partitions, which are its keys.
    expect(JSON.stringify(input.StorageDescriptor.Location)).toContain('/events/');
    expect(destination.Prefix).toBe(`events/${asArray<Cfn>(input.PartitionKeys).map((key) => `${key.Name}=!{timestamp:${{ year: 'yyyy', month: 'MM', day: 'dd', hour: 'HH' }[key.Name as 'year']}}/`).join('')}`);
    expect(input.Parameters['projection.enabled']).toBe('true');
  });

  // "BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled" (CreateDeliveryStream);
  // the local stage's 1 MiB is for the local Firehose only, which accepts any size.
  it('buffers at least 64 MiB on AWS, as Firehose requires with format conversion', () => {
    if (stage === 'local') return;
    expect(lakeStream(t).BufferingHints.SizeInMBs).toBeGreaterThanOrEqual(64);
  });

  it('lets Firehose read the table schema, and nothing more from Glue', () => {
    const destination = lakeStream(t);
    const statements = roleStatements(t, refId(destination.RoleARN) ?? '').statements;
    const glueActions = statements.flatMap((source) => asArray<string>(source.statement.Action)).filter((action) => action.startsWith('glue:'));
    expect(glueActions.sort()).toEqual(['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions']);
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

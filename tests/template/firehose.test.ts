import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, loadTemplate, refId, resource, resourcesOfType, type Cfn, type Template } from './helpers.ts';

const HOURLY_PARTITIONS = 'year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/';

/** The lake's delivery streams fed by Kinesis (the SNS archive's DirectPut stream: tests/template/order-archive.test.ts). */
const deliveryStreams = (t: Template): Array<[string, Cfn]> =>
  resourcesOfType(t, 'AWS::KinesisFirehose::DeliveryStream')
    .filter(([, stream]) => stream.Properties.DeliveryStreamType !== 'DirectPut')
    .map(([id, stream]) => [id, stream.Properties]);

/** The resource an output names (`OrderStreamName: !Ref OrderStream`). */
const outputTarget = (t: Template, output: string): string => {
  const id = refId(t.outputs[output]?.Value);
  if (!id) throw new Error(`Output ${output} is not a Ref`);
  return id;
};

describe('Firehose buffering differs per stage', () => {
  // https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html (1-128 MiB, 0-900 s)
  it('BufferingHints come from the lakeBufferMiB/lakeBufferSeconds params, within Firehose limits, and local differs from dev', async () => {
    const hints: Record<string, Cfn> = {};
    for (const stage of STAGES) {
      const t = await loadTemplate(stage);
      const streams = deliveryStreams(t);
      expect(streams).toHaveLength(1);
      const buffering = (streams[0] as [string, Cfn])[1].ExtendedS3DestinationConfiguration.BufferingHints;
      expect(buffering, stage).toEqual({ SizeInMBs: Number(t.params.lakeBufferMiB), IntervalInSeconds: Number(t.params.lakeBufferSeconds) });
      expect(buffering.SizeInMBs).toBeGreaterThanOrEqual(1);
      expect(buffering.SizeInMBs).toBeLessThanOrEqual(128);
      expect(buffering.IntervalInSeconds).toBeGreaterThanOrEqual(0);
      expect(buffering.IntervalInSeconds).toBeLessThanOrEqual(900);
      hints[stage] = buffering;
    }
    expect(hints.local).not.toEqual(hints.dev);
  });
});

describe.each(STAGES)('Firehose delivery to the lake (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html
  it('reads the order stream (KinesisStreamAsSource) and writes to the lake bucket', () => {
    const streams = deliveryStreams(t);
    expect(streams).toHaveLength(1);
    const [id, props] = streams[0] as [string, Cfn];
    expect(props.DeliveryStreamType, id).toBe('KinesisStreamAsSource');
    expect(refId(props.KinesisStreamSourceConfiguration?.KinesisStreamARN)).toBe(outputTarget(t, 'OrderStreamName'));
    expect(resource(t, outputTarget(t, 'OrderStreamName')).Type).toBe('AWS::Kinesis::Stream');
    expect(refId(props.ExtendedS3DestinationConfiguration?.BucketARN)).toBe(outputTarget(t, 'LakeBucketName'));
  });

  // Compression: https://docs.aws.amazon.com/firehose/latest/dev/create-destination.html; with record format
  // conversion S3 compression is off and the serializer compresses (enable-record-format-conversion.html).
  // Prefixes ("if you use an expression in Prefix you must also specify ErrorOutputPrefix", and
  // !{firehose:error-output-type}): https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html
  it('writes SNAPPY Parquet (S3 compression off), partitions by year=/month=/day=/hour=, and has an ErrorOutputPrefix with !{firehose:error-output-type}', () => {
    for (const [id, props] of deliveryStreams(t)) {
      const s3 = props.ExtendedS3DestinationConfiguration;
      expect(s3.CompressionFormat, id).toBe('UNCOMPRESSED');
      expect(s3.DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression, id).toBe('SNAPPY');
      expect(s3.Prefix, id).toContain(HOURLY_PARTITIONS);
      expect(s3.ErrorOutputPrefix, id).toContain('!{firehose:error-output-type}');
    }
  });
});

// The compiled CloudFormation template against the CloudFormation resource specification (@aws-cdk/aws-service-spec).
// Packaging: `packaging(stage)` from helpers.ts (`osls package --stage <stage> --package <tmp>` in a shadow copy of
// the service, once per vitest run for all template test files, so neither .serverless/ nor .esbuild/ of the
// checkout is touched). The spec is loaded once (~0.5-0.8 s). Each mutation test checks a structuredClone of the
// real dev template.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnSpec, loadSpec } from '../../scripts/template/spec.ts';
import { formatIssue, validateTemplate } from '../../scripts/template/validate.ts';
import { STAGES, packaging } from './helpers.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'scripts/template/validate.ts');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a template is free-form JSON; mutations reach into it
type Template = Record<string, any>;

let spec: CfnSpec;
const templateFiles = new Map<string, string>();
/** The dev template, the one the mutations start from. */
let template: Template;
let templateFile: string;

const errorsOf = (candidate: Template): string[] => validateTemplate(candidate, spec).errors.map(formatIssue);

/** A copy of the real template with one change applied. */
const mutated = (change: (copy: Template) => void): Template => {
  const copy = structuredClone(template);
  change(copy);
  return copy;
};

beforeAll(async () => {
  const [loaded, ...packaged] = await Promise.all([loadSpec(), ...STAGES.map((stage) => packaging(stage))]);
  spec = loaded;
  for (const result of packaged) {
    if (!result.ok) throw new Error(`osls package --stage ${result.stage} failed:\n${result.output}`);
    templateFiles.set(result.stage, join(result.packageDir, 'cloudformation-template-update-stack.json'));
  }
  templateFile = templateFiles.get('dev') as string;
  template = JSON.parse(readFileSync(templateFile, 'utf8')) as Template;
});

describe('Template: cloudformation-template-update-stack.json against the resource specification', () => {
  it.each(STAGES)('has no errors (%s stage)', (stage) => {
    // Prepare
    const compiled = JSON.parse(readFileSync(templateFiles.get(stage) as string, 'utf8')) as Template;
    // Act
    const { errors, warnings, stats } = validateTemplate(compiled, spec);
    // Assess
    expect(errors.map(formatIssue)).toEqual([]);
    expect(warnings.map(formatIssue)).toEqual([]);
    expect(stats.resources).toBe(Object.keys(compiled.Resources).length);
    expect(stats.properties).toBeGreaterThan(500);
  });

  it('reports an unknown resource type', () => {
    const candidate = mutated((t) => (t.Resources.OrdersTable.Type = 'AWS::DynamoDB::Tables'));
    expect(errorsOf(candidate)).toEqual(['OrdersTable.Type: unknown resource type AWS::DynamoDB::Tables (did you mean AWS::DynamoDB::Table?)']);
  });

  it('reports a misspelled top-level property', () => {
    const candidate = mutated((t) => {
      const queue = t.Resources.BillingQueue.Properties;
      queue.VisibilityTimout = queue.VisibilityTimeout;
      delete queue.VisibilityTimeout;
    });
    expect(errorsOf(candidate)).toEqual(['BillingQueue.Properties.VisibilityTimout: unknown property (did you mean VisibilityTimeout?)']);
  });

  it('reports a misspelled nested property, once (not also as the required property it replaces)', () => {
    const candidate = mutated((t) => {
      const rule = t.Resources.DocumentsBucket.Properties.NotificationConfiguration.QueueConfigurations[0].Filter.S3Key.Rules[0];
      rule.Nam = rule.Name;
      delete rule.Name;
    });
    expect(errorsOf(candidate)).toEqual([
      'DocumentsBucket.Properties.NotificationConfiguration.QueueConfigurations[0].Filter.S3Key.Rules[0].Nam: unknown property (did you mean Name?)',
    ]);
  });

  it.each([
    [
      'a string where an object is expected',
      (t: Template) => (t.Resources.DocumentsBucket.Properties.NotificationConfiguration = 'documents/'),
      'DocumentsBucket.Properties.NotificationConfiguration: expected a NotificationConfiguration object, got the string "documents/"',
    ],
    [
      'a string where a list is expected',
      (t: Template) => (t.Resources.OrderStoreDLQAlarm.Properties.Dimensions = 'QueueName'),
      'OrderStoreDLQAlarm.Properties.Dimensions: expected a list of Dimension objects, got the string "QueueName"',
    ],
    [
      'an object where a string is expected',
      (t: Template) => (t.Resources.BillingQueue.Properties.QueueName = { name: 'billing' }),
      'BillingQueue.Properties.QueueName: expected a string, got an object',
    ],
    [
      'a list where a JSON policy is expected',
      (t: Template) => (t.Resources.BillingQueue.Properties.RedrivePolicy = [t.Resources.BillingQueue.Properties.RedrivePolicy]),
      'BillingQueue.Properties.RedrivePolicy: expected a JSON object or a string, got a list',
    ],
    [
      'a non-numeric string where an integer is expected',
      (t: Template) => (t.Resources.BillingQueue.Properties.VisibilityTimeout = '61s'),
      'BillingQueue.Properties.VisibilityTimeout: expected an integer, got the string "61s"',
    ],
    [
      'a value outside the allowed values',
      (t: Template) => (t.Resources.PlaceOrderLambdaFunction.Properties.TracingConfig.Mode = 'active'),
      'PlaceOrderLambdaFunction.Properties.TracingConfig.Mode: "active" is not one of Active, PassThrough (did you mean Active?)',
    ],
  ])('reports the wrong type: %s', (_case, change, expected) => {
    expect(errorsOf(mutated(change))).toEqual([expected]);
  });

  it('accepts what CloudFormation converts: numeric strings, "true"/"false", numbers as strings', () => {
    const candidate = mutated((t) => {
      t.Resources.BillingQueue.Properties.VisibilityTimeout = '61';
      t.Resources.BillingQueue.Properties.SqsManagedSseEnabled = 'true';
      t.Resources.OrderStoreDLQAlarm.Properties.Dimensions[0].Value = 42;
    });
    expect(errorsOf(candidate)).toEqual([]);
  });

  it.each([
    [
      'at the top level',
      (t: Template) => delete t.Resources.OrdersTable.Properties.KeySchema,
      'OrdersTable.Properties.KeySchema: required property is missing',
    ],
    [
      'in a nested structure',
      (t: Template) => delete t.Resources.OrderStoreDLQAlarm.Properties.Dimensions[0].Value,
      'OrderStoreDLQAlarm.Properties.Dimensions[0].Value: required property is missing',
    ],
  ])('reports a missing required property %s', (_case, change, expected) => {
    expect(errorsOf(mutated(change))).toEqual([expected]);
  });

  it('reports Fn::GetAtt of an attribute the target type does not have', () => {
    const candidate = mutated((t) => (t.Resources.OrderStoreDLQAlarm.Properties.Dimensions[0].Value = { 'Fn::GetAtt': ['OrderStoreDLQ', 'QueueNam'] }));
    expect(errorsOf(candidate)).toEqual([
      'OrderStoreDLQAlarm.Properties.Dimensions[0].Value: Fn::GetAtt OrderStoreDLQ.QueueNam: AWS::SQS::Queue has no attribute QueueNam (did you mean QueueName?)',
    ]);
  });

  it.each([
    [
      'Ref in a property',
      (t: Template) => (t.Resources.BillingSubscription.Properties.TopicArn = { Ref: 'OrderEventTopic' }),
      'BillingSubscription.Properties.TopicArn: Ref OrderEventTopic: no resource or parameter named OrderEventTopic (did you mean OrderEventsTopic?)',
    ],
    [
      'Ref inside a policy document',
      (t: Template) => (t.Resources.PlaceOrderRole.Properties.Policies[0].PolicyDocument.Statement[1].Resource[0] = { Ref: 'OrderTopic' }),
      'PlaceOrderRole.Properties.Policies[0].PolicyDocument.Statement[1].Resource[0]: Ref OrderTopic: no resource or parameter named OrderTopic',
    ],
    [
      'Fn::GetAtt',
      (t: Template) => (t.Resources.BillingSubscription.Properties.Endpoint = { 'Fn::GetAtt': ['BillingQ', 'Arn'] }),
      'BillingSubscription.Properties.Endpoint: Fn::GetAtt BillingQ.Arn: no resource named BillingQ (did you mean BillingDLQ?)',
    ],
    [
      'a Fn::Sub placeholder',
      (t: Template) => (t.Outputs.HttpApiUrl.Value = { 'Fn::Sub': 'https://${HttpAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}' }),
      'Outputs.HttpApiUrl.Value: Fn::Sub ${HttpAPI}: no resource or parameter named HttpAPI (did you mean HttpApi?)',
    ],
    [
      'DependsOn',
      (t: Template) => (t.Resources.DocumentsBucket.DependsOn = 'DocumentEventQueuePolicy'),
      'DocumentsBucket.DependsOn: DependsOn: no resource named DocumentEventQueuePolicy (did you mean DocumentEventsQueuePolicy?)',
    ],
  ])('reports a reference to a missing resource: %s', (_case, change, expected) => {
    expect(errorsOf(mutated(change))).toEqual([expected]);
  });

  it('warns when Ref returns another identifier than the property takes (a queue URL for an ARN)', () => {
    // Act
    const { errors, warnings } = validateTemplate(mutated((t) => (t.Resources.BillingSubscription.Properties.Endpoint = { Ref: 'BillingQueue' })), spec);
    // Assess
    expect(errors).toEqual([]);
    expect(warnings.map(formatIssue)).toEqual([
      'BillingSubscription.Properties.Endpoint: Ref BillingQueue gives the AWS::SQS::Queue QueueUrl, but this property takes its Arn (use Fn::GetAtt BillingQueue.Arn)',
    ]);
  });

  it('reports an unknown or malformed intrinsic function', () => {
    const candidate = mutated((t) => {
      t.Resources.BillingSubscription.Properties.Endpoint = { 'Fn::GetAt': ['BillingQueue', 'Arn'] };
      t.Resources.ShippingSubscription.Properties.Endpoint = { 'Fn::GetAtt': 'ShippingQueue' };
      t.Resources.OrderStoreSubscription.Properties.Endpoint = { 'Fn:GetAtt': ['OrderStoreQueue', 'Arn'] };
    });
    expect(errorsOf(candidate).sort()).toEqual([
      'BillingSubscription.Properties.Endpoint: unknown intrinsic function Fn::GetAt (did you mean Fn::GetAtt?)',
      'OrderStoreSubscription.Properties.Endpoint: unknown intrinsic function Fn:GetAtt (did you mean Fn::GetAtt?)',
      'ShippingSubscription.Properties.Endpoint: Fn::GetAtt takes [logicalId, attributeName] or "logicalId.attributeName", got "ShippingQueue"',
    ]);
  });

  it('checks both branches of Fn::If against the property type, and the condition name', () => {
    const candidate = mutated((t) => {
      t.Conditions = { ...t.Conditions, IsProd: { 'Fn::Equals': [{ Ref: 'AWS::StackName' }, 'orderflow-prod'] } };
      t.Resources.BillingQueue.Properties.VisibilityTimeout = { 'Fn::If': ['IsProd', 121, 'long'] };
      t.Resources.ShippingQueue.Properties.VisibilityTimeout = { 'Fn::If': ['IsPrd', 121, 61] };
    });
    expect(errorsOf(candidate)).toEqual([
      'BillingQueue.Properties.VisibilityTimeout.Fn::If[2]: expected an integer, got the string "long"',
      'ShippingQueue.Properties.VisibilityTimeout: Fn::If: no condition named IsPrd (did you mean IsProd?)',
    ]);
  });

  it('allows any property on a custom resource but requires ServiceToken', () => {
    const candidate = mutated((t) => {
      t.Resources.Seed = { Type: 'Custom::SeedOrders', Properties: { ServiceToken: { 'Fn::GetAtt': ['PlaceOrderLambdaFunction', 'Arn'] }, Orders: 3 } };
      t.Resources.Broken = { Type: 'AWS::CloudFormation::CustomResource', Properties: { Orders: 3 } };
    });
    expect(errorsOf(candidate)).toEqual(['Broken.Properties.ServiceToken: required property is missing']);
  });

  it('CLI: exits 0 on the packaged template and 1, naming the path, on a broken one', async () => {
    // Prepare
    const broken = join(mkdtempSync(join(tmpdir(), 'orderflow-template-')), 'broken.json');
    writeFileSync(broken, JSON.stringify(mutated((t) => (t.Resources.BillingQueue.Properties.VisibilityTimout = 61))));
    // Act
    const [ok, failed] = await Promise.all([
      run(process.execPath, [cli, templateFile]),
      run(process.execPath, [cli, broken]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      ),
    ]);
    // Assess
    expect(ok.stdout).toContain(': 0 error(s), 0 warning(s)');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('BillingQueue.Properties.VisibilityTimout: unknown property (did you mean VisibilityTimeout?)');
  });
});

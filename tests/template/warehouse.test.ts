/**
 * Amazon MQ for RabbitMQ (resources/warehouse.yml, warehouseDispatch in serverless.yml): off by default, every piece
 * behind one condition; on, a RabbitMQ broker whose user lives in Secrets Manager and a Lambda event source on its
 * queue that authenticates with that secret.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, functionRoleId, lambdaFunctions, loadTemplate, resource, roleStatements, type Template } from './helpers.ts';

const MAPPING = 'WarehouseDispatchEventSourceMappingRabbitMQWarehousedispatch';
const PIECES = ['WarehouseBroker', 'WarehouseBrokerSecret', 'WarehouseDispatchRole', 'WarehouseDispatchLambdaFunction', 'WarehouseDispatchLogGroup', MAPPING];

describe.each(STAGES)('Amazon MQ for the warehouse (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  it("every piece (broker, secret, role, function, log group, mapping) is behind WarehouseBrokerEnabled; off on dev (it costs money), on locally", () => {
    // Act
    const conditions = PIECES.map((id) => resource(t, id).Condition);

    // Assess
    expect(conditions).toEqual(PIECES.map(() => 'WarehouseBrokerEnabled'));
    expect(t.params.warehouseBroker).toBe(stage === 'local' ? 'true' : 'false');
    const versions = Object.entries(t.resources).filter(([id, r]) => id.startsWith('WarehouseDispatch') && r.Type === 'AWS::Lambda::Version');
    for (const [, version] of versions) expect(version.Condition).toBe('WarehouseBrokerEnabled');
  });

  it("the broker is RabbitMQ, single-instance on the smallest type, its user's username and password resolved from the secret", () => {
    // Act
    const broker = resource(t, 'WarehouseBroker').Properties;
    const secret = resource(t, 'WarehouseBrokerSecret').Properties;

    // Assess
    expect(broker).toMatchObject({ EngineType: 'RABBITMQ', HostInstanceType: 'mq.t3.micro', DeploymentMode: 'SINGLE_INSTANCE', AutoMinorVersionUpgrade: true });
    expect(broker.Users).toEqual([
      {
        Username: { 'Fn::Sub': '{{resolve:secretsmanager:${WarehouseBrokerSecret}:SecretString:username}}' },
        Password: { 'Fn::Sub': '{{resolve:secretsmanager:${WarehouseBrokerSecret}:SecretString:password}}' },
      },
    ]);
    expect(JSON.parse(secret.GenerateSecretString.SecretStringTemplate)).toEqual({ username: 'orderflow' });
    expect(secret.GenerateSecretString.GenerateStringKey).toBe('password');
    // Amazon MQ refuses commas, colons and equal signs in a password (Amazon MQ API reference, User).
    for (const forbidden of [',', ':', '=']) expect(secret.GenerateSecretString.ExcludeCharacters).toContain(forbidden);
    expect(secret.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(12);
  });

  it("warehouseDispatch's mapping reads the broker's queue (its ARN, not its id) with BASIC_AUTH from the secret", () => {
    // Act
    const mapping = resource(t, MAPPING).Properties;

    // Assess
    expect(mapping.EventSourceArn).toEqual({ 'Fn::GetAtt': ['WarehouseBroker', 'Arn'] });
    expect(mapping.Queues).toEqual(['warehouse-dispatch']);
    expect(mapping.SourceAccessConfigurations).toEqual([{ Type: 'BASIC_AUTH', URI: { Ref: 'WarehouseBrokerSecret' } }]);
    expect(mapping.FunctionName).toEqual({ 'Fn::GetAtt': ['WarehouseDispatchLambdaFunction', 'Arn'] });
  });

  it("its role may describe that broker, read that secret and publish to the order topic, as Lambda's Amazon MQ event source needs", () => {
    // Prepare
    const fn = lambdaFunctions(t).find((candidate) => candidate.name === 'warehouseDispatch');
    expect(fn).toBeDefined();

    // Act
    const statements = roleStatements(t, functionRoleId(t, fn?.id as string)).statements.map(({ statement }) => statement);
    const on = (action: string): unknown[] => statements.filter((s) => [s.Action].flat().includes(action)).map((s) => s.Resource);

    // Assess
    expect(on('mq:DescribeBroker')).toEqual([{ 'Fn::GetAtt': ['WarehouseBroker', 'Arn'] }]);
    expect(on('secretsmanager:GetSecretValue')).toEqual([{ Ref: 'WarehouseBrokerSecret' }]);
    expect(on('sns:Publish')).toEqual([
      { Ref: 'OrderEventsTopic' },
      { Ref: 'OrderArchiveTopic' }, // slice-line:analytics (resources/order-archive.yml: every order event also archived)
    ]);
    for (const action of ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs']) {
      expect(on(action), action).toHaveLength(1);
    }
  });
});

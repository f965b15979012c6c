import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, loadTemplate, resourcesOfType, type Template } from './helpers.ts';

describe.each(STAGES)('HTTP API throttling (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // Route throttling: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
  // Account default 10,000 requests/s, burst 5,000 (API Gateway quotas page).
  it('every HTTP API stage throttles below the account default and above the spike scenario (1,000/s)', () => {
    const stages = resourcesOfType(t, 'AWS::ApiGatewayV2::Stage');
    expect(stages.length).toBeGreaterThan(0);
    for (const [id, apiStage] of stages) {
      const settings = apiStage.Properties.DefaultRouteSettings;
      expect(settings, `${id}.DefaultRouteSettings`).toBeDefined();
      expect(settings.ThrottlingRateLimit, `${id} rate`).toBeGreaterThanOrEqual(1000);
      expect(settings.ThrottlingRateLimit, `${id} rate`).toBeLessThan(10_000);
      expect(settings.ThrottlingBurstLimit, `${id} burst`).toBeGreaterThanOrEqual(1000);
      expect(settings.ThrottlingBurstLimit, `${id} burst`).toBeLessThan(5000);
    }
  });
});

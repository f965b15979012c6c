import '../../helpers/env.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MissingEnvError, requireEnv } from '#lib/aws/env.ts';

describe('Lib: aws/env requireEnv', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reads the variable at call time', () => {
    vi.stubEnv('TOPIC_ARN', 'arn:aws:sns:us-east-1:123456789012:orderflow-dev-order-events.fifo');
    expect(requireEnv('TOPIC_ARN')).toBe('arn:aws:sns:us-east-1:123456789012:orderflow-dev-order-events.fifo');
  });

  it('throws MissingEnvError naming the variable and where to set it, when unset or empty', () => {
    vi.stubEnv('ORDERFLOW_UNSET_FOR_TEST', undefined);
    vi.stubEnv('ORDERFLOW_EMPTY_FOR_TEST', '');
    for (const name of ['ORDERFLOW_UNSET_FOR_TEST', 'ORDERFLOW_EMPTY_FOR_TEST']) {
      expect(() => requireEnv(name)).toThrow(MissingEnvError);
      expect(() => requireEnv(name)).toThrow(`Environment variable ${name} is not set: check this function's environment in serverless.yml`);
    }
  });
});

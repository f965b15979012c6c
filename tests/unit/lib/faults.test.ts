import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  FaultsConfigError,
  InjectedFaultError,
  PoisonOrderError,
  customerIdOf,
  decideFault,
  faultsFor,
  injectFaults,
  parseFaults,
} from '../../../lib/faults.ts';

const placed = (customerId: string): string => JSON.stringify({ type: 'OrderPlaced', orderId: 'o-1', order: { customerId, items: [] } });
const envOf = (faults: unknown, functionName = 'orderflow-dev-chargeOrder'): Record<string, string> => ({
  FAULTS: typeof faults === 'string' ? faults : JSON.stringify(faults),
  AWS_LAMBDA_FUNCTION_NAME: functionName,
});

describe('lib/faults: parseFaults', () => {
  it('reads no faults from an empty or missing FAULTS', () => {
    expect(parseFaults(undefined)).toEqual({});
    expect(parseFaults('')).toEqual({});
    expect(parseFaults('  ')).toEqual({});
  });

  it('reads each function faults and skips non-function keys such as duplicateDelivery', () => {
    // Act
    const config = parseFaults('{"chargeOrder":{"failureRate":0.1,"poison":true,"latencyMs":500},"*":{"latencyMs":5},"duplicateDelivery":true}');

    // Assess
    expect(config).toEqual({ chargeOrder: { failureRate: 0.1, poison: true, latencyMs: 500 }, '*': { latencyMs: 5 } });
  });

  it.each([
    ['{', 'FAULTS is not JSON'],
    ['[1]', 'FAULTS must be a JSON object'],
    ['{"chargeOrder":{"failureRate":1.5}}', 'FAULTS.chargeOrder.failureRate must be a number from 0 to 1'],
    ['{"chargeOrder":{"failureRate":"0.1"}}', 'FAULTS.chargeOrder.failureRate must be a number from 0 to 1'],
    ['{"shipOrder":{"poison":"yes"}}', 'FAULTS.shipOrder.poison must be true or false'],
    ['{"shipOrder":{"latencyMs":-1}}', 'FAULTS.shipOrder.latencyMs must be an integer from 0 to 900000'],
    ['{"shipOrder":{"latencyMs":1.5}}', 'FAULTS.shipOrder.latencyMs must be an integer'],
    ['{"shipOrder":{"failurerate":0.1}}', 'FAULTS.shipOrder.failurerate is not a fault'],
  ])('rejects %s naming the path at fault', (text, message) => {
    expect(() => parseFaults(text)).toThrow(FaultsConfigError);
    expect(() => parseFaults(text)).toThrow(message);
  });

  it('accepts every valid failure rate and latency (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 900_000 }), fc.boolean(), (failureRate, latencyMs, poison) => {
        expect(parseFaults(JSON.stringify({ f: { failureRate, latencyMs, poison } }))).toEqual({ f: { failureRate, latencyMs, poison } });
      }),
    );
  });
});

describe('lib/faults: faultsFor', () => {
  const config = { chargeOrder: { poison: true }, '*': { latencyMs: 10 } };

  it('finds a function by its full name (stack prefix) or short name, else the * entry', () => {
    expect(faultsFor(config, 'orderflow-dev-chargeOrder')).toEqual({ poison: true });
    expect(faultsFor(config, 'chargeOrder')).toEqual({ poison: true });
    expect(faultsFor(config, 'orderflow-dev-shipOrder')).toEqual({ latencyMs: 10 });
    expect(faultsFor({ chargeOrder: {} }, 'orderflow-dev-shipOrder')).toBeUndefined();
  });

  it('does not match a name that only ends with the key (rechargeOrder is not chargeOrder)', () => {
    expect(faultsFor({ chargeOrder: { poison: true } }, 'orderflow-dev-rechargeOrder')).toBeUndefined();
  });
});

describe('lib/faults: customerIdOf', () => {
  it('reads the customer of an OrderPlaced event or a review request, nothing from other bodies', () => {
    expect(customerIdOf(placed('poison-1'))).toBe('poison-1');
    expect(customerIdOf(JSON.stringify({ orderId: 'o-1', customerId: 'c-9' }))).toBe('c-9');
    expect(customerIdOf(JSON.stringify({ type: 'OrderCharged', orderId: 'o-1' }))).toBeUndefined();
    expect(customerIdOf('not json')).toBeUndefined();
    expect(customerIdOf('null')).toBeUndefined();
  });
});

describe('lib/faults: decideFault', () => {
  it('fails a poison order on every delivery, whatever the random draw', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (random) => {
        const decision = decideFault({ poison: true }, { functionName: 'chargeOrder', customerId: 'poison-7', random });
        expect(decision.error).toBeInstanceOf(PoisonOrderError);
        expect(decision.error?.message).toBe('Poison order of customer poison-7 always fails chargeOrder (FAULTS poison)');
      }),
    );
  });

  it('lets other customers through when only poison is on', () => {
    expect(decideFault({ poison: true }, { functionName: 'chargeOrder', customerId: 'c-7', random: 0 })).toEqual({ latencyMs: 0 });
    expect(decideFault({ poison: true }, { functionName: 'chargeOrder', random: 0 })).toEqual({ latencyMs: 0 });
  });

  it('fails with a transient InjectedFaultError when the draw is below failureRate', () => {
    const failed = decideFault({ failureRate: 0.25, latencyMs: 40 }, { functionName: 'shipOrder', random: 0.2 });
    expect(failed.latencyMs).toBe(40);
    expect(failed.error).toBeInstanceOf(InjectedFaultError);
    expect((failed.error as InjectedFaultError).transient).toBe(true);
    expect(failed.error?.name).toBe('InjectedFaultError');
    expect(decideFault({ failureRate: 0.25 }, { functionName: 'shipOrder', random: 0.25 })).toEqual({ latencyMs: 0 });
    expect(decideFault({ failureRate: 0 }, { functionName: 'shipOrder', random: 0 })).toEqual({ latencyMs: 0 });
  });

  it('fails about failureRate of the records (seeded draws)', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const failures = Array.from({ length: 10_000 }, () => decideFault({ failureRate: 0.1 }, { functionName: 'f', random: random() }).error).filter(Boolean).length;
    expect(failures).toBeGreaterThan(900);
    expect(failures).toBeLessThan(1100);
  });
});

describe('lib/faults: injectFaults', () => {
  it('does nothing without FAULTS, or for a function FAULTS does not name', async () => {
    const sleep = vi.fn(async () => {});
    await expect(injectFaults({ body: placed('poison-1') }, { env: {}, sleep })).resolves.toBeUndefined();
    await expect(injectFaults({ body: placed('poison-1') }, { env: envOf({ shipOrder: { poison: true } }), sleep })).resolves.toBeUndefined();
    expect(sleep).not.toHaveBeenCalled();
  });

  it('waits the latency, then throws the poison fault of this function', async () => {
    // Prepare
    const sleep = vi.fn(async () => {});
    const env = envOf({ chargeOrder: { poison: true, latencyMs: 250 } });

    // Act
    const injecting = injectFaults({ body: placed('poison-abc') }, { env, sleep });

    // Assess
    await expect(injecting).rejects.toThrow(PoisonOrderError);
    expect(sleep).toHaveBeenCalledWith(250);
  });

  it('reads FAULTS on every call, so a change takes effect at once (the local cloud changes it live)', async () => {
    const env: Record<string, string> = envOf({ chargeOrder: { failureRate: 1 } });
    await expect(injectFaults({ customerId: 'c-1' }, { env, random: () => 0.5 })).rejects.toThrow(InjectedFaultError);
    env.FAULTS = '';
    await expect(injectFaults({ customerId: 'c-1' }, { env, random: () => 0.5 })).resolves.toBeUndefined();
  });

  it('ignores an invalid FAULTS (reported once), rather than failing real orders', async () => {
    // Prepare
    const onInvalidConfig = vi.fn();
    const env = envOf('{"chargeOrder":{"failureRate":2}}');

    // Act
    await injectFaults({ body: placed('poison-1') }, { env, onInvalidConfig });
    await injectFaults({ body: placed('poison-1') }, { env, onInvalidConfig });

    // Assess
    expect(onInvalidConfig).toHaveBeenCalledTimes(1);
    expect(onInvalidConfig.mock.calls[0]?.[0]).toMatchObject({ name: 'FaultsConfigError', path: 'FAULTS.chargeOrder.failureRate' });
  });
});

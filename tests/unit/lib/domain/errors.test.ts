import '../../helpers/env.ts';
import { describe, expect, it } from 'vitest';
import { InvalidEventError, InvalidOrderError, OrderflowError, PublishError, StreamWriteError } from '#lib/domain/errors.ts';

describe('Lib: domain/errors', () => {
  it('every error is an OrderflowError with its own name and a message naming the input at fault', () => {
    // Prepare
    const fields = [{ field: 'items[0].quantity', message: 'must be between 1 and 1000' }];

    // Act
    const errors = [
      new InvalidOrderError(fields),
      new InvalidEventError('OrderPlaced event', fields),
      new StreamWriteError('orderflow-dev-order-stream', 2, 'ProvisionedThroughputExceededException'),
      new PublishError('arn:aws:sns:us-east-1:123456789012:orderflow-dev-order-events.fifo', ['o-1:OrderPlaced']),
    ];

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(OrderflowError);
      expect(error).toBeInstanceOf(Error);
    }
    expect(errors.map((error) => error.name)).toEqual(['InvalidOrderError', 'InvalidEventError', 'StreamWriteError', 'PublishError']);
    expect(errors[0]?.message).toBe('Invalid order: items[0].quantity must be between 1 and 1000');
    expect(errors[1]?.message).toBe('Invalid OrderPlaced event: items[0].quantity must be between 1 and 1000');
    expect(errors[2]?.message).toContain('orderflow-dev-order-stream');
    expect(errors[2]?.message).toContain('ProvisionedThroughputExceededException');
    expect(errors[3]?.message).toContain('o-1:OrderPlaced');
    expect((errors[0] as InvalidOrderError).fields).toEqual(fields);
  });

  it('keeps a cause', () => {
    const cause = new Error('socket hang up');
    expect(new OrderflowError('publish failed', { cause }).cause).toBe(cause);
  });
});

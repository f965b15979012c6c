import '../helpers/env.ts';
import { describe, expect, it } from 'vitest';
import { json, problem } from '#lib/http.ts';

describe('Lib: http', () => {
  it('json: a JSON response with its content type, extra headers kept', () => {
    expect(json(202, { orderId: 'o-1', status: 'PLACED' }, { location: '/orders/o-1' })).toEqual({
      statusCode: 202,
      headers: { 'content-type': 'application/json', location: '/orders/o-1' },
      body: '{"orderId":"o-1","status":"PLACED"}',
    });
  });

  it('problem: names the error and every field at fault', () => {
    const response = problem(400, 'Invalid order', [{ field: 'customerId', message: 'is required' }]);
    expect(response).toMatchObject({ statusCode: 400, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse((response as { body: string }).body)).toEqual({ error: 'Invalid order', fields: [{ field: 'customerId', message: 'is required' }] });
    expect(JSON.parse((problem(404, 'Order not found') as { body: string }).body)).toEqual({ error: 'Order not found', fields: [] });
  });
});

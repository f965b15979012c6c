import '../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderView } from '#lib/aws/orders-table.ts';
import { ORDER_VIEW_FIELDS, customerOrderView } from '#lib/order-view.ts';

const order: OrderView = {
  orderId: 'o-1',
  ownerId: 'sub-1',
  status: 'PLACED',
  customerId: 'c-42',
  fulfillment: 'digital',
  items: [{ sku: 'EBOOK-7', quantity: 1, unitPriceCents: 999 }],
  totalCents: 999,
  correlationId: 'CxW2NhQ9IAMEJbw=',
  placedAt: '2026-11-22T10:15:30.412Z',
  timeline: [{ status: 'PLACED', at: '2026-11-22T10:15:30.412Z' }],
  invoiceWrites: 0,
  labelWrites: 0,
};

describe('Lib: order-view', () => {
  it('copies the allow-listed fields that are set, and nothing else', () => {
    // Act
    const view = customerOrderView(order);

    // Assess
    expect(view).toEqual({
      orderId: 'o-1',
      status: 'PLACED',
      customerId: 'c-42',
      fulfillment: 'digital',
      items: [{ sku: 'EBOOK-7', quantity: 1, unitPriceCents: 999 }],
      totalCents: 999,
      placedAt: '2026-11-22T10:15:30.412Z',
      timeline: [{ status: 'PLACED', at: '2026-11-22T10:15:30.412Z' }],
    });
  });

  it('never lets an unlisted field through, whatever the stored item holds (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.jsonValue()), (extra) => {
        // Act
        const view = customerOrderView({ ...extra, ...order } as OrderView);

        // Assess
        for (const key of Object.keys(view)) expect(ORDER_VIEW_FIELDS as readonly string[]).toContain(key);
        expect(view).not.toHaveProperty('ownerId');
        expect(view).not.toHaveProperty('correlationId');
      }),
    );
  });
});

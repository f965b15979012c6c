import '../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addToWindow, emptyWindow, type WindowState } from '#lib/metrics-window.ts';
import { orderEvent } from '../helpers/arbitraries.ts';

describe('Lib: metrics-window addToWindow', () => {
  it('counts events by type and adds charged amounts to the revenue', () => {
    fc.assert(
      fc.property(fc.array(orderEvent, { maxLength: 20 }), (events) => {
        // Act
        const state = addToWindow(undefined, events);

        // Assess
        expect(state.OrderPlaced + state.OrderCharged + state.OrderShipped).toBe(events.length);
        expect(state.OrderCharged).toBe(events.filter((event) => event.type === 'OrderCharged').length);
        expect(state.revenueCents).toBe(events.reduce((sum, event) => sum + (event.type === 'OrderCharged' ? event.amountCents : 0), 0));
      }),
    );
  });

  it('accumulates across invocations: batch by batch equals all at once', () => {
    fc.assert(
      fc.property(fc.array(fc.array(orderEvent, { maxLength: 5 }), { maxLength: 5 }), (batches) => {
        // Act
        const stepwise = batches.reduce<WindowState>((state, batch) => addToWindow(state, batch), emptyWindow());

        // Assess
        expect(stepwise).toEqual(addToWindow(undefined, batches.flat()));
      }),
    );
  });

  it('starts from the state Lambda passes (empty at the start of a window) and never changes it', () => {
    // Prepare
    const state: Partial<WindowState> = Object.freeze({ OrderPlaced: 2 });

    // Act
    const next = addToWindow(state, []);

    // Assess
    expect(next).toEqual({ OrderPlaced: 2, OrderCharged: 0, OrderShipped: 0, revenueCents: 0 });
    expect(addToWindow({}, [])).toEqual(emptyWindow());
    expect(state).toEqual({ OrderPlaced: 2 });
  });
});

import { EVENT_TYPES, type OrderEvent } from './events/order-events.ts';

/** What orderMetrics carries from one invocation to the next within a tumbling window (Lambda keeps it). */
interface WindowState {
  OrderPlaced: number;
  OrderCharged: number;
  OrderShipped: number;
  revenueCents: number;
}

const emptyWindow = (): WindowState => ({ OrderPlaced: 0, OrderCharged: 0, OrderShipped: 0, revenueCents: 0 });

/**
 * Adds a batch of events to a window's running totals (a new object: the state passed in is not changed).
 *
 * @example
 * const state = addToWindow(event.state ?? emptyWindow(), events);
 */
const addToWindow = (state: Partial<WindowState> | undefined, events: readonly OrderEvent[]): WindowState => {
  const next = { ...emptyWindow(), ...state };
  for (const event of events) {
    next[event.type] += 1;
    if (event.type === 'OrderCharged') next.revenueCents += event.amountCents;
  }
  return next;
};

export type { WindowState };
export { EVENT_TYPES, emptyWindow, addToWindow };

import type { Fulfillment } from './order.ts';

/**
 * Order status, derived from the steps that have happened, never from the latest event: charging and shipping
 * run in parallel, so OrderShipped may land before OrderCharged.
 */
type OrderStatus = 'PLACED' | 'CHARGED' | 'SHIPPED' | 'COMPLETED';

interface OrderSteps {
  fulfillment: Fulfillment;
  placedAt?: string;
  chargedAt?: string;
  shippedAt?: string;
}

/**
 * PLACED, then CHARGED or SHIPPED as each step lands, then COMPLETED once every step the order needs is done
 * (physical: charged and shipped; digital: charged). Steps only ever get added, so the status is monotonic.
 *
 * @example
 * deriveStatus({ fulfillment: 'physical', placedAt: t0, shippedAt: t1 }); // 'SHIPPED'
 */
const deriveStatus = ({ fulfillment, chargedAt, shippedAt }: OrderSteps): OrderStatus => {
  const charged = chargedAt !== undefined;
  const shipped = shippedAt !== undefined;
  if (fulfillment === 'digital') return charged ? 'COMPLETED' : 'PLACED';
  if (charged && shipped) return 'COMPLETED';
  if (shipped) return 'SHIPPED';
  if (charged) return 'CHARGED';
  return 'PLACED';
};

interface TimelineEntry {
  status: OrderStatus;
  at: string;
}

/**
 * When the order became COMPLETED: the time of the last step it needed (physical: the later of charged and
 * shipped; digital: charged), or undefined while a step is missing. Derived from the steps like the status, so a
 * COMPLETED status always has it (the stored `completedAt` is when the table recorded it, a moment later).
 *
 * @example
 * completedAt({ fulfillment: 'physical', chargedAt: '2026-11-22T10:00:02Z', shippedAt: '2026-11-22T10:00:01Z' }); // '2026-11-22T10:00:02Z'
 */
const completedAt = (steps: OrderSteps): string | undefined => {
  if (deriveStatus(steps) !== 'COMPLETED') return undefined;
  const needed = steps.fulfillment === 'digital' ? [steps.chargedAt] : [steps.chargedAt, steps.shippedAt];
  return needed.filter((at): at is string => at !== undefined).sort().at(-1);
};

/**
 * One entry per step that happened, oldest first, ending with COMPLETED and its time once the order is complete.
 *
 * @example
 * timeline({ fulfillment: 'digital', placedAt: t0, chargedAt: t1 }); // [PLACED t0, CHARGED t1, COMPLETED t1]
 */
const timeline = (steps: OrderSteps): TimelineEntry[] => {
  const { placedAt, chargedAt, shippedAt } = steps;
  const entries: TimelineEntry[] = [];
  if (placedAt) entries.push({ status: 'PLACED', at: placedAt });
  if (chargedAt) entries.push({ status: 'CHARGED', at: chargedAt });
  if (shippedAt) entries.push({ status: 'SHIPPED', at: shippedAt });
  // Sorted before COMPLETED is added: it shares its time with the step that completed the order and comes after it.
  entries.sort((a, b) => a.at.localeCompare(b.at));
  const completed = completedAt(steps);
  if (completed) entries.push({ status: 'COMPLETED', at: completed });
  return entries;
};

export type { OrderStatus, OrderSteps, TimelineEntry };
export { completedAt, deriveStatus, timeline };

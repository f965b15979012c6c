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

const RANK: Record<OrderStatus, number> = { PLACED: 0, CHARGED: 1, SHIPPED: 1, COMPLETED: 2 };

/** Statuses a stored status may be replaced from when moving to `next` (the monotonic rule, for conditions). */
const statusesBelow = (next: OrderStatus): OrderStatus[] =>
  (Object.keys(RANK) as OrderStatus[]).filter((status) => RANK[status] < RANK[next]);

interface TimelineEntry {
  status: 'PLACED' | 'CHARGED' | 'SHIPPED';
  at: string;
}

/** One entry per step that happened, oldest first. */
const timeline = ({ placedAt, chargedAt, shippedAt }: OrderSteps): TimelineEntry[] => {
  const entries: TimelineEntry[] = [];
  if (placedAt) entries.push({ status: 'PLACED', at: placedAt });
  if (chargedAt) entries.push({ status: 'CHARGED', at: chargedAt });
  if (shippedAt) entries.push({ status: 'SHIPPED', at: shippedAt });
  return entries.sort((a, b) => a.at.localeCompare(b.at));
};

export type { OrderStatus, OrderSteps, TimelineEntry };
export { deriveStatus, statusesBelow, timeline };

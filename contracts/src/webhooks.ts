/**
 * What webhook endpoints can subscribe to: one type per order status the pipeline reaches after the
 * order was placed (the client that placed it already has the 201), plus the test event an owner can
 * send. Each comes from an `order.status_changed` on `orders.status`.
 */
import type { OrderStatus } from './order-state';

export const WEBHOOK_EVENT_BY_STATUS: Partial<Record<OrderStatus, string>> = {
  validated: 'order.validated',
  rejected: 'order.rejected',
  paid: 'order.paid',
  failed: 'order.failed',
  reserved: 'order.reserved',
  shipped: 'order.shipped',
  cancelled: 'order.cancelled',
};

export const WEBHOOK_TEST_EVENT = 'webhook.test';

export const WEBHOOK_EVENT_TYPES = [...Object.values(WEBHOOK_EVENT_BY_STATUS), WEBHOOK_TEST_EVENT] as string[];

/** The body of every delivery (Standard Webhooks' recommended envelope). */
export interface WebhookPayload {
  type: string;
  /** ISO-8601: when the change happened. */
  timestamp: string;
  data: {
    orderId?: string;
    status?: string;
    previousStatus?: string | null;
    version?: number;
    reason?: string | null;
    message?: string;
  };
}

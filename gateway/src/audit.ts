/**
 * The audit trail of administrative actions (table admin_audit): who, when, what, on which object,
 * written in the transaction of the change itself so neither exists without the other. Never holds
 * secrets or tokens: the detail is the change's own fields.
 */
import type { Sql } from '@orders/platform';

export type AdminAction =
  | 'product.created'
  | 'product.updated'
  | 'order.cancelled'
  | 'dlq.replayed'
  | 'order.redriven'
  // Written by the users CLI (ops/tools/users.ts), which spells them itself (ops does not import the gateway).
  | 'user.promoted'
  | 'user.demoted';

export async function recordAdminAction(tx: Sql, actorId: string, action: AdminAction, target: string, detail: object): Promise<void> {
  await tx`INSERT INTO admin_audit (actor_id, action, target, detail) VALUES (${actorId}, ${action}, ${target}, ${tx.json(detail as never)})`;
}

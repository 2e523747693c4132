/**
 * The webhook portal at `/portal` (served by pages/serve.ts): a customer's webhook endpoints with their
 * delivery health, registering and changing them, the signing secret shown once, and every delivery with
 * its attempts. Its script talks only to the REST API on this origin (`/api/v1/webhooks`).
 */
import { join } from 'node:path';
import { pageModule } from '../pages/serve';

export function portalModule() {
  return pageModule({ name: 'webhook-portal', path: '/portal', dir: join(import.meta.dir, 'page') });
}

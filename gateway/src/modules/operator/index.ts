/**
 * The operator console at `/operator` (issue #18), served by pages/serve.ts: where orders wait in the
 * pipeline, which are stuck, one order's diagnosis, and the re-drive and dead-letter replay buttons.
 * The page is public like the others; everything it shows comes from the admin-only API
 * (`/api/v1/admin/pipeline`, `/api/v1/admin/dlq`), which answers a customer 403.
 */
import { join } from 'node:path';
import { pageModule } from '../pages/serve';

export function operatorModule() {
  return pageModule({ name: 'operator-page', path: '/operator', dir: join(import.meta.dir, 'page') });
}

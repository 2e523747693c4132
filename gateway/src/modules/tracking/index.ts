/**
 * The live tracking page at `/track` (served by pages/serve.ts). Its script talks to the REST API on this
 * origin and to the WebSocket edge at TRACKING_WS_URL (same origin `/ws/orders` when unset, as behind
 * nginx), the one other origin its Content-Security-Policy allows.
 */
import { join } from 'node:path';
import { pageModule } from '../pages/serve';

export function trackingModule(wsUrl: string) {
  const wsOrigin = wsUrl ? new URL(wsUrl).origin.replace(/^http/, 'ws') : '';
  return pageModule({
    name: 'tracking-page',
    path: '/track',
    dir: join(import.meta.dir, 'page'),
    placeholders: { WS_URL: wsUrl },
    connect: wsOrigin ? [wsOrigin] : [],
  });
}

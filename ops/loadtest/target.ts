/**
 * What the tool knows about the deployment it loads: the gateway, the WebSocket edge, and, when the
 * target is one of this machine's own stacks (`npm start`, the test services), where its processes serve
 * their metrics. A remote target or one behind nginx gets nothing but its public URLs.
 */
import { stackConfig } from '../local/config.mjs';
import { isLoopback } from './args';

const cfg = stackConfig();

export interface Target {
  gatewayUrl: string;
  /** Where ws-storm's sockets go (the target's own edge unless --ws-target named others). */
  wsUrls: string[];
  loopback: boolean;
  /** The local stack this target is, when it is one: its processes' metrics pages. */
  local: { name: 'dev' | 'test'; workersMetricsUrl: string; gatewayMetricsUrl: string } | null;
}

/** The `npm start` gateway: the tool's default target. */
export const DEFAULT_TARGET = `http://${cfg.host}:${cfg.services.gatewayPort}`;

export function resolveTarget(gatewayUrl: string, wsTargets: string[]): Target {
  const url = new URL(gatewayUrl);
  const loopback = isLoopback(gatewayUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const stacks = [
    { name: 'dev' as const, ports: cfg.services },
    { name: 'test' as const, ports: cfg.testServices },
  ];
  const stack = loopback && url.pathname === '/' ? stacks.find((s) => s.ports.gatewayPort === port) : undefined;
  const ownEdge = stack
    ? `ws://${cfg.host}:${stack.ports.wsEdgePort}/ws/orders`
    : // Behind nginx (and in the compose stages) the edge answers on the gateway's own origin.
      `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}${url.pathname.replace(/\/$/, '')}/ws/orders`;
  return {
    gatewayUrl,
    wsUrls: wsTargets.length > 0 ? wsTargets : [ownEdge],
    loopback,
    local: stack
      ? {
          name: stack.name,
          workersMetricsUrl: `http://${cfg.host}:${stack.ports.workerMetricsPort}/metrics`,
          gatewayMetricsUrl: `${gatewayUrl}/metrics`,
        }
      : null,
  };
}
